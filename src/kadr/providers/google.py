"""Google OAuth 2.0 (with PKCE) and the YouTube Data API v3: channel lookup, resumable uploads, thumbnails.

Every failure is raised as a `GoogleError` subclass that tells the caller what to do next:
re-authorise the channel (`InvalidGrant`), wait for the quota to reset (`QuotaExceeded`), retry later
(`TransientGoogleError`), give up (`PermanentGoogleError`) or start a new upload session
(`UploadSessionGone`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode

import httpx

from kadr.core.clock import utcnow

YOUTUBE_SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
)
# Resumable upload chunks must be multiples of 256 KiB (except the last one).
CHUNK_UNIT = 256 * 1024

_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_RANGE_RE = re.compile(r"^bytes=0-(\d+)$")


class GoogleError(Exception):
    """Base of every error from Google; `reason` is Google's error reason or the OAuth error code."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status is not None else []
        if self.reason:
            parts.append(self.reason)
        return f"{self.message} ({', '.join(parts)})" if parts else self.message


class InvalidGrant(GoogleError):
    """The refresh token (or authorization code) was revoked or expired: the channel needs re-auth."""


class QuotaExceeded(GoogleError):
    """The project's daily YouTube quota is spent; retrying before the reset only burns more."""


class TransientGoogleError(GoogleError):
    """5xx, rate limiting or a network failure: the same request may succeed later."""


class PermanentGoogleError(GoogleError):
    """A 4xx that retrying cannot fix (bad request, forbidden, invalid client, ...)."""


class UploadSessionGone(GoogleError):
    """The resumable session URI expired (404/410): the upload must start over with a new session."""


@dataclass(frozen=True)
class GoogleConfig:
    client_id: str
    client_secret: str
    redirect_uri: str
    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url: str = "https://oauth2.googleapis.com/token"
    api_url: str = "https://www.googleapis.com"
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_at: datetime
    refresh_token: str | None
    scope: str


@dataclass(frozen=True)
class VideoMetadata:
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    privacy_status: str = "private"
    made_for_kids: bool = False
    notify_subscribers: bool = True
    category_id: str = "22"


@dataclass(frozen=True)
class UploadStatus:
    received: int
    video: dict[str, Any] | None


def new_pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-]: inside the 43..128 the RFC allows
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def authorization_url(config: GoogleConfig, state: str, code_challenge: str) -> str:
    """Where to send the user's browser to grant kadr access to their YouTube channel."""
    params = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": " ".join(YOUTUBE_SCOPES),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
        # offline + consent: Google only returns a refresh token on a consent screen.
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    return f"{config.auth_url}?{urlencode(params, quote_via=quote)}"


def video_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def _error_from(response: httpx.Response, *, upload_session: bool = False) -> GoogleError:
    """Turn a failed response into the exception that says what the caller should do about it."""
    status = response.status_code
    reason = ""
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Data API: {"error": {"code", "message", "errors": [{"reason"}]}}
            message = str(error.get("message") or "")
            errors = error.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                reason = str(errors[0].get("reason") or "")
            reason = reason or str(error.get("status") or "")
        elif isinstance(error, str):  # OAuth token endpoint: {"error": "invalid_grant", ...}
            reason = error
            message = str(body.get("error_description") or "")
    if not message:
        message = response.text[:200].strip() or response.reason_phrase
    text = f"Google answered {status} {reason or response.reason_phrase}: {message}"

    if reason == "invalid_grant":
        return InvalidGrant(text, status=status, reason=reason)
    if upload_session and status in (404, 410):
        return UploadSessionGone(text, status=status, reason=reason or "notFound")
    if reason in _QUOTA_REASONS:
        return QuotaExceeded(text, status=status, reason=reason)
    # Google sometimes reports rate limiting as 403 with a rate reason: that is worth a retry.
    if status >= 500 or status == 429 or reason in _RATE_REASONS:
        return TransientGoogleError(text, status=status, reason=reason)
    return PermanentGoogleError(text, status=status, reason=reason)


def _received_from(response: httpx.Response) -> int:
    """Bytes the server holds, from a 308's `Range: bytes=0-N` (no header: it holds nothing)."""
    header = response.headers.get("range")
    if header is None:
        return 0
    match = _RANGE_RE.match(header.strip())
    if match is None:
        raise TransientGoogleError(f"unparseable Range header {header!r}", status=response.status_code)
    return int(match.group(1)) + 1


def _read_chunk(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def _video_from(response: httpx.Response) -> dict[str, Any]:
    try:
        video = response.json()
    except ValueError as exc:
        raise TransientGoogleError("upload finished but the answer is not JSON", status=200) from exc
    if not isinstance(video, dict) or "id" not in video:
        raise TransientGoogleError("upload finished but the answer has no video id", status=200)
    return video


class GoogleClient:
    """Async client for Google OAuth and the YouTube Data API."""

    def __init__(self, config: GoogleConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=config.timeout_seconds)
        # Backoff between resume attempts of an interrupted upload (instance attributes: tests shrink them).
        self.backoff_base_seconds = 0.5
        self.backoff_cap_seconds = 8.0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request; network failures and timeouts become TransientGoogleError."""
        try:
            return await self._http.request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                json=json,
                content=content,
                timeout=self.config.timeout_seconds,
            )
        except httpx.TransportError as exc:  # includes every timeout
            raise TransientGoogleError(
                f"{method} {url.split('?')[0]} failed: {type(exc).__name__}: {exc}", reason="transport"
            ) from exc

    # --- OAuth -------------------------------------------------------------------------------------

    async def _token(self, form: dict[str, str]) -> TokenSet:
        response = await self._request("POST", self.config.token_url, data=form)
        if response.status_code != 200:
            raise _error_from(response)
        try:
            body = response.json()
            access_token = str(body["access_token"])
            expires_in = int(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientGoogleError("malformed token response", status=200) from exc
        refresh_token = body.get("refresh_token")
        return TokenSet(
            access_token=access_token,
            expires_at=utcnow() + timedelta(seconds=expires_in),
            refresh_token=str(refresh_token) if refresh_token else None,
            scope=str(body.get("scope", "")),
        )

    async def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade the authorization code from the redirect for tokens (PKCE verifier included)."""
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "redirect_uri": self.config.redirect_uri,
            }
        )

    async def refresh(self, refresh_token: str) -> TokenSet:
        """A new access token; `refresh_token` of the result is None unless Google rotated it."""
        return await self._token(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            }
        )

    # --- Data API ----------------------------------------------------------------------------------

    @staticmethod
    def _bearer(access_token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token}"}

    async def my_channel(self, access_token: str) -> dict[str, Any]:
        """The YouTube channel of the authorised account: {"id", "title", "custom_url"}."""
        response = await self._request(
            "GET",
            f"{self.config.api_url}/youtube/v3/channels",
            params={"part": "snippet", "mine": "true"},
            headers=self._bearer(access_token),
        )
        if response.status_code != 200:
            raise _error_from(response)
        items = response.json().get("items") or []
        if not items:
            raise PermanentGoogleError(
                "this Google account has no YouTube channel", status=200, reason="noChannel"
            )
        channel = items[0]
        snippet = channel.get("snippet") or {}
        return {
            "id": channel["id"],
            "title": snippet.get("title", ""),
            "custom_url": snippet.get("customUrl"),
        }

    async def create_upload_session(
        self, access_token: str, metadata: VideoMetadata, size: int, content_type: str
    ) -> str:
        """Start a resumable upload (videos.insert) and return its session URI."""
        body = {
            "snippet": {
                "title": metadata.title,
                "description": metadata.description,
                "tags": list(metadata.tags),
                "categoryId": metadata.category_id,
            },
            "status": {
                "privacyStatus": metadata.privacy_status,
                "selfDeclaredMadeForKids": metadata.made_for_kids,
            },
        }
        response = await self._request(
            "POST",
            f"{self.config.api_url}/upload/youtube/v3/videos",
            params={
                "uploadType": "resumable",
                "part": "snippet,status",
                "notifySubscribers": "true" if metadata.notify_subscribers else "false",
            },
            headers={
                **self._bearer(access_token),
                "X-Upload-Content-Length": str(size),
                "X-Upload-Content-Type": content_type,
                "Content-Type": "application/json; charset=UTF-8",
            },
            json=body,
        )
        if response.status_code not in (200, 201):
            raise _error_from(response)
        location = response.headers.get("location")
        if not location:
            raise TransientGoogleError(
                "Google accepted the upload session but sent no Location", status=response.status_code
            )
        return location

    @staticmethod
    def _session_headers(access_token: str | None, extra: dict[str, str]) -> dict[str, str]:
        # The session URI itself authorises the upload; the token is optional but harmless.
        return {**({"Authorization": f"Bearer {access_token}"} if access_token else {}), **extra}

    async def upload_status(
        self, session_url: str, size: int, access_token: str | None = None
    ) -> UploadStatus:
        """Ask a resumable session how many bytes it holds (or for the video, if it is complete)."""
        response = await self._request(
            "PUT",
            session_url,
            headers=self._session_headers(
                access_token, {"Content-Length": "0", "Content-Range": f"bytes */{size}"}
            ),
        )
        if response.status_code in (200, 201):
            return UploadStatus(received=size, video=_video_from(response))
        if response.status_code == 308:
            return UploadStatus(received=_received_from(response), video=None)
        raise _error_from(response, upload_session=True)

    async def upload(
        self,
        session_url: str,
        path: Path,
        size: int,
        *,
        access_token: str | None = None,
        chunk_size: int = 8 * 1024 * 1024,
        start: int = 0,
        on_progress: Callable[[int, int], Awaitable[None] | None] | None = None,
        max_resumes: int = 5,
    ) -> dict[str, Any]:
        """Send `path` to a resumable session from byte `start`; returns the video resource.

        After each chunk the server says how much it kept, and that, not what was sent, is where the
        next chunk starts. Interruptions (5xx, network) are resumed from the server's count after a
        backoff; after `max_resumes` consecutive ones TransientGoogleError lets the caller keep the
        session URI and come back later.
        """
        if chunk_size <= 0 or chunk_size % CHUNK_UNIT:
            raise ValueError(
                f"chunk_size must be a positive multiple of {CHUNK_UNIT} bytes, got {chunk_size}"
            )
        if size <= 0:
            raise ValueError("cannot upload an empty file")
        if not 0 <= start <= size:
            raise ValueError(f"start {start} is outside 0..{size}")

        offset = start
        failures = 0
        need_status = offset >= size  # everything sent already: only the video resource is missing

        async def report(received: int) -> None:
            if on_progress is not None:
                result = on_progress(received, size)
                if inspect.isawaitable(result):
                    await result

        while True:
            try:
                if need_status:
                    status = await self.upload_status(session_url, size, access_token)
                    if status.video is not None:
                        await report(size)
                        return status.video
                    offset = status.received
                    need_status = False
                length = min(chunk_size, size - offset)
                chunk = await asyncio.to_thread(_read_chunk, path, offset, length)
                if len(chunk) != length:
                    raise ValueError(f"{path} is shorter than the declared {size} bytes")
                response = await self._request(
                    "PUT",
                    session_url,
                    headers=self._session_headers(
                        access_token, {"Content-Range": f"bytes {offset}-{offset + length - 1}/{size}"}
                    ),
                    content=chunk,
                )
                del chunk
                if response.status_code in (200, 201):
                    video = _video_from(response)
                    await report(size)
                    return video
                if response.status_code != 308:
                    raise _error_from(response, upload_session=True)
                received = _received_from(response)
                if received <= offset:
                    # The server kept nothing of the chunk: count it like an interruption, so a
                    # server that never makes progress cannot keep us looping forever.
                    raise TransientGoogleError(
                        f"upload made no progress at byte {offset}", status=308, reason="noProgress"
                    )
                offset = received
                failures = 0
                await report(received)
                if offset >= size:
                    need_status = True  # 308 although all bytes are there: ask for the video
            except TransientGoogleError as exc:
                failures += 1
                if failures > max_resumes:
                    raise TransientGoogleError(
                        f"upload interrupted {failures} times in a row at byte {offset}; last: {exc.message}",
                        status=exc.status,
                        reason=exc.reason,
                    ) from exc
                delay = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** (failures - 1))
                await asyncio.sleep(delay)
                need_status = True  # the failed chunk may have been partly stored: ask where to go on

    async def set_thumbnail(
        self, access_token: str, video_id: str, path: Path, content_type: str = "image/jpeg"
    ) -> None:
        """Replace the video's thumbnail (thumbnails.set, 50 quota units)."""
        image = await asyncio.to_thread(path.read_bytes)  # thumbnails are at most 2 MB
        response = await self._request(
            "POST",
            f"{self.config.api_url}/upload/youtube/v3/thumbnails/set",
            params={"videoId": video_id, "uploadType": "media"},
            headers={**self._bearer(access_token), "Content-Type": content_type},
            content=image,
        )
        if response.status_code not in (200, 201):
            raise _error_from(response)
