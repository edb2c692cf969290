"""A stand-in for Google OAuth and the YouTube Data API that speaks the real protocol over a real socket.

It runs uvicorn in a background thread, so both in-process tests and separate `kadr worker` processes
can talk to it. The browser consent step is simulated with `authorize()` / `consent_code_for()`, or
done for real by a browser: the authorization URL opens a minimal consent page whose Allow and
Cancel buttons redirect to the client's `redirect_uri` with a `code` or `error=access_denied`.
All state sits behind one lock: tests poke it from their thread while the server thread serves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from html import escape
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kadr.providers.google import CHUNK_UNIT, YOUTUBE_SCOPES, GoogleConfig
from tests.support.process import free_port

_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")
_LOGGED_HEADERS = (
    "authorization",
    "content-type",
    "content-length",
    "content-range",
    "x-upload-content-length",
    "x-upload-content-type",
)
PAUSE_LIMIT_SECONDS = 120.0  # a paused completion never holds a server thread longer than this


def _google_error(status: int, reason: str, message: str, domain: str = "global") -> JSONResponse:
    """A Data API error body, shaped like Google's."""
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
        status_code=status,
    )


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """A token endpoint error body, shaped like Google's."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(24)}"


def _youtube_id(length: int) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    account: str
    used: bool = False


@dataclass
class _Grant:
    """One refresh token and the account it speaks for."""

    account: str
    scope: str
    revoked: bool = False


@dataclass
class _Access:
    account: str
    refresh_token: str
    expires_at: float


@dataclass
class _Session:
    upload_id: str
    account: str
    size: int
    content_type: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    notify_subscribers: str | None
    received: int = 0
    created_at: float = field(default_factory=time.time)
    digest: Any = field(default_factory=hashlib.sha256)
    video: dict[str, Any] | None = None


class _RequestLog:
    """ASGI middleware that records every request's method, path, query and a few headers."""

    def __init__(self, app: ASGIApp, google: FakeGoogle) -> None:
        self.app = app
        self.google = google

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {
                key.decode("latin-1"): value.decode("latin-1")
                for key, value in scope["headers"]
                if key.decode("latin-1") in _LOGGED_HEADERS
            }
            entry = {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode("latin-1"),
                "headers": headers,
            }
            with self.google.lock:
                self.google.requests.append(entry)
        await self.app(scope, receive, send)


class FakeGoogle:
    """Google OAuth + YouTube Data API stand-in; `with FakeGoogle() as google: google.url ...`."""

    def __init__(self, client_id: str = "test-client", client_secret: str = "test-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_token_ttl = 3600  # seconds, the `expires_in` Google returns

        # OAuth state.
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, _Access] = {}
        # account -> channel resource ({"id", "snippet": {"title", "customUrl"}}), or None for "no channel".
        self.channels: dict[str, dict[str, Any] | None] = {}
        self.refresh_count = 0

        # YouTube state.
        self._sessions: dict[str, _Session] = {}
        self.sessions_created = 0
        self.videos: list[dict[str, Any]] = []
        self.thumbnails: dict[str, bytes] = {}
        self.units_used = 0  # the general 10,000/day bucket: thumbnails.set 50, channels.list 1
        self.upload_units_used = 0  # videos.insert has its own bucket: 1 per upload
        self.requests: list[dict[str, Any]] = []

        # Fault injection.
        self._fail_chunks: list[int] = []  # statuses for the next chunk PUTs
        self._keep_partial: int | None = None
        self.quota_exceeded = False
        self.pause_on_complete: threading.Event | None = None
        self.completed_event = threading.Event()

        self._closing = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        routes = [
            Route("/o/oauth2/v2/auth", self._consent_page, methods=["GET"]),
            Route("/o/oauth2/v2/auth", self._consent_answer, methods=["POST"]),
            Route("/token", self._token_endpoint, methods=["POST"]),
            Route("/youtube/v3/channels", self._channels, methods=["GET"]),
            Route("/upload/youtube/v3/videos", self._create_session, methods=["POST"]),
            Route("/upload/youtube/v3/videos", self._put_chunk, methods=["PUT"]),
            Route("/upload/youtube/v3/thumbnails/set", self._set_thumbnail, methods=["POST"]),
        ]
        return _RequestLog(Starlette(routes=routes), self)

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-google", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Google server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._closing.set()  # releases a paused completion
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def config(self, redirect_uri: str = "http://127.0.0.1/oauth/callback", **overrides: Any) -> GoogleConfig:
        """A GoogleConfig that points kadr's client at this server."""
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": redirect_uri,
            "auth_url": f"{self.url}/o/oauth2/v2/auth",
            "token_url": f"{self.url}/token",
            "api_url": self.url,
            "timeout_seconds": 10.0,
        }
        values.update(overrides)
        return GoogleConfig(**values)

    # --- test controls -----------------------------------------------------------------------------

    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        scope: str = " ".join(YOUTUBE_SCOPES),
        *,
        account: str = "default",
    ) -> str:
        """Simulate the user granting consent: mint an authorization code bound to the PKCE challenge."""
        if client_id != self.client_id:
            raise ValueError(f"unknown client_id {client_id!r}")
        code = _token("4/")
        with self.lock:
            self._codes[code] = _Code(client_id, redirect_uri, code_challenge, scope, account)
            if account not in self.channels:
                self.channels[account] = {
                    "id": "UC" + _youtube_id(22),
                    "snippet": {"title": f"Channel {account}", "customUrl": f"@{account}"},
                }
        return code

    def consent_code_for(self, authorization_url: str, *, account: str = "default") -> str:
        """Check an authorization URL the way Google's consent page would, then consent."""
        parts = urlsplit(authorization_url)
        if parts.path != "/o/oauth2/v2/auth":
            raise ValueError(f"not an authorization URL: {authorization_url}")
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if params.get("response_type") != "code":
            raise ValueError(f"response_type must be 'code': {params}")
        if params.get("client_id") != self.client_id:
            raise ValueError(f"unknown client_id: {params.get('client_id')!r}")
        if not params.get("redirect_uri"):
            raise ValueError("redirect_uri missing")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise ValueError(f"PKCE S256 challenge missing: {params}")
        scopes = params.get("scope", "").split()
        if "https://www.googleapis.com/auth/youtube.upload" not in scopes:
            raise ValueError(f"youtube.upload scope not requested: {scopes}")
        return self.authorize(
            params["client_id"],
            params["redirect_uri"],
            params["code_challenge"],
            " ".join(scopes),
            account=account,
        )

    def set_channel(self, account: str, channel: dict[str, Any] | None) -> None:
        """Give an account a specific channel resource, or None for an account without a channel."""
        with self.lock:
            self.channels[account] = channel

    def revoke(self, refresh_token: str) -> None:
        """The user revoked access: the refresh token and its access tokens stop working."""
        with self.lock:
            if refresh_token in self._grants:
                self._grants[refresh_token].revoked = True
            for token in [t for t, a in self._access.items() if a.refresh_token == refresh_token]:
                del self._access[token]

    def revoke_all(self) -> None:
        with self.lock:
            for grant in self._grants.values():
                grant.revoked = True
            self._access.clear()

    def expire_access_tokens(self) -> None:
        with self.lock:
            for access in self._access.values():
                access.expires_at = 0.0

    def fail_next_chunks(self, n: int, status: int = 503) -> None:
        """Answer `status` to the next n chunk PUTs, keeping nothing of them."""
        with self.lock:
            self._fail_chunks.extend([status] * n)

    def keep_partial_next_chunk(self, nbytes: int) -> None:
        """Keep only the first nbytes of the next chunk and say so in the 308's Range."""
        with self.lock:
            self._keep_partial = nbytes

    def clear_faults(self) -> None:
        """Drop pending injected faults (failed chunks, partial chunk, quota)."""
        with self.lock:
            self._fail_chunks.clear()
            self._keep_partial = None
            self.quota_exceeded = False

    def session_received(self, upload_id: str) -> int:
        with self.lock:
            return self._sessions[upload_id].received

    # --- the consent page (what a browser sees at the authorization URL) ----------------------------

    #: The account a browser's consent speaks for (`consent_code_for`'s `account`).
    browser_account = "default"

    async def _consent_page(self, request: Request) -> Response:
        """Google's consent screen, reduced to its two buttons; the query is checked on Allow."""
        query = str(request.url.query)
        client = escape(request.query_params.get("client_id", ""))
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in - Google Accounts</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<h1>Choose an account to continue</h1><p>The app {client} wants to manage your YouTube videos.</p>
<form method="post" action="/o/oauth2/v2/auth?{escape(query)}">
<button name="consent" value="allow">Allow</button> <button name="consent" value="deny">Cancel</button>
</form></body></html>"""
        return HTMLResponse(page)

    async def _consent_answer(self, request: Request) -> Response:
        """Back to the client's redirect_uri: a code on Allow, `error=access_denied` on Cancel."""
        params = dict(request.query_params)
        answer: dict[str, str] = {"state": params.get("state", "")}
        if (await request.form()).get("consent") == "allow":
            code = await anyio.to_thread.run_sync(
                lambda: self.consent_code_for(str(request.url), account=self.browser_account)
            )
            answer["code"] = code
        else:
            answer["error"] = "access_denied"
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(answer)}", status_code=302)

    # --- OAuth endpoint ----------------------------------------------------------------------------

    async def _token_endpoint(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                return self._exchange(form)
            if grant_type == "refresh_token":
                return self._refresh(form)
        return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _issue_access(self, account: str, refresh_token: str) -> str:
        token = _token("ya29.")
        self._access[token] = _Access(account, refresh_token, time.time() + self.access_token_ttl)
        return token

    def _exchange(self, form: dict[str, str]) -> Response:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used:
            return _oauth_error(400, "invalid_grant", "Malformed auth code.")
        code.used = True  # single use, even when the exchange fails (RFC 6749 §4.1.2)
        if code.client_id != form["client_id"] or code.redirect_uri != form.get("redirect_uri"):
            return _oauth_error(400, "invalid_grant", "Bad Request")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii") != code.challenge:
            return _oauth_error(400, "invalid_grant", "Invalid code verifier.")
        refresh_token = _token("1//")
        self._grants[refresh_token] = _Grant(code.account, code.scope)
        return JSONResponse(
            {
                "access_token": self._issue_access(code.account, refresh_token),
                "expires_in": self.access_token_ttl,
                "refresh_token": refresh_token,
                "scope": code.scope,
                "token_type": "Bearer",
            }
        )

    def _refresh(self, form: dict[str, str]) -> Response:
        refresh_token = form.get("refresh_token", "")
        grant = self._grants.get(refresh_token)
        if grant is None or grant.revoked:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        self.refresh_count += 1
        return JSONResponse(
            {
                "access_token": self._issue_access(grant.account, refresh_token),
                "expires_in": self.access_token_ttl,
                "scope": grant.scope,
                "token_type": "Bearer",
            }
        )

    # --- Data API ----------------------------------------------------------------------------------

    def _account_for(self, request: Request) -> str | None:
        """The account behind the Bearer token; None if unknown or expired. Caller holds the lock."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        access = self._access.get(header.removeprefix("Bearer "))
        if access is None or access.expires_at <= time.time():
            return None
        return access.account

    @staticmethod
    def _unauthenticated() -> JSONResponse:
        return _google_error(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        )

    async def _channels(self, request: Request) -> Response:
        with self.lock:
            account = self._account_for(request)
            if account is None:
                return self._unauthenticated()
            if request.query_params.get("mine") != "true" or "snippet" not in request.query_params.get(
                "part", ""
            ):
                return _google_error(400, "badRequest", "expected part=snippet&mine=true")
            self.units_used += 1
            channel = self.channels.get(account)
        return JSONResponse({"kind": "youtube#channelListResponse", "items": [channel] if channel else []})

    async def _create_session(self, request: Request) -> Response:
        body_bytes = await request.body()
        with self.lock:
            account = self._account_for(request)
        if account is None:
            return self._unauthenticated()
        if request.query_params.get("uploadType") != "resumable":
            return _google_error(400, "badRequest", "only uploadType=resumable is supported here")
        parts = set(request.query_params.get("part", "").split(","))
        try:
            size = int(request.headers["x-upload-content-length"])
        except (KeyError, ValueError):
            return _google_error(400, "badRequest", "X-Upload-Content-Length is required")
        if size <= 0:
            return _google_error(400, "badRequest", "X-Upload-Content-Length must be positive")
        try:
            body = json.loads(body_bytes)
        except ValueError:
            return _google_error(400, "parseError", "Parse Error")
        if not isinstance(body, dict) or not {"snippet", "status"} <= parts:
            return _google_error(400, "badRequest", "part must include snippet,status")
        snippet = body.get("snippet") or {}
        status = body.get("status") or {}
        if not snippet.get("title"):
            return _google_error(
                400, "invalidTitle", "The request metadata specifies an invalid video title."
            )
        with self.lock:
            if self.quota_exceeded:
                return _google_error(
                    403,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your quota.",
                    domain="youtube.quota",
                )
            self.upload_units_used += 1
            upload_id = _token("")
            self._sessions[upload_id] = _Session(
                upload_id=upload_id,
                account=account,
                size=size,
                content_type=request.headers.get("x-upload-content-type", "video/*"),
                snippet=snippet,
                status=status,
                notify_subscribers=request.query_params.get("notifySubscribers"),
            )
            self.sessions_created += 1
        location = f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return Response(status_code=200, headers={"Location": location})

    async def _put_chunk(self, request: Request) -> Response:
        chunk = await request.body()
        upload_id = request.query_params.get("upload_id", "")
        match = _CONTENT_RANGE.match(request.headers.get("content-range", "").strip())
        with self.lock:
            session = self._sessions.get(upload_id)
            if session is None:
                return _google_error(404, "notFound", "Upload session not found.")
            if match is None:
                return _google_error(400, "badRequest", "Content-Range is missing or malformed")
            if int(match.group(3)) != session.size:
                return _google_error(400, "badRequest", "Content-Range total differs from the declared size")
            if session.video is not None:  # complete: any PUT answers with the video again
                return JSONResponse(session.video, status_code=200)
            if match.group(1) is None:  # "bytes */total": a status query
                return self._incomplete(session)
            first, last = int(match.group(1)), int(match.group(2))
            if self._fail_chunks:
                failure = self._fail_chunks.pop(0)
                return _google_error(failure, "backendError", "Backend Error")
            if first != session.received:
                return _google_error(
                    400, "badRequest", f"chunk starts at {first}, server holds {session.received} bytes"
                )
            if last - first + 1 != len(chunk) or last >= session.size:
                return _google_error(400, "badRequest", "Content-Range does not match the body")
            if last + 1 < session.size and len(chunk) % CHUNK_UNIT:
                return _google_error(400, "badRequest", f"non-final chunk is not a multiple of {CHUNK_UNIT}")
            if self._keep_partial is not None:
                chunk = chunk[: self._keep_partial]
                self._keep_partial = None
            session.digest.update(chunk)
            session.received += len(chunk)
            if session.received < session.size:
                return self._incomplete(session)
            video = self._finish(session)
            pause = self.pause_on_complete
        self.completed_event.set()
        if pause is not None:
            # Hold the answer off the event loop so the rest of the server keeps serving meanwhile.
            await anyio.to_thread.run_sync(self._wait_for_release, pause)
        return JSONResponse(video, status_code=201)

    def _wait_for_release(self, pause: threading.Event) -> None:
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while time.monotonic() < deadline and not self._closing.is_set():
            if pause.wait(0.1):
                return

    @staticmethod
    def _incomplete(session: _Session) -> Response:
        headers = {"Range": f"bytes=0-{session.received - 1}"} if session.received else {}
        return Response(status_code=308, headers=headers)

    def _finish(self, session: _Session) -> dict[str, Any]:
        """Record the uploaded video (caller holds the lock)."""
        video_id = _youtube_id(11)
        session.video = {
            "kind": "youtube#video",
            "id": video_id,
            "snippet": session.snippet,
            "status": session.status,
        }
        self.videos.append(
            {
                "id": video_id,
                "snippet": session.snippet,
                "status": session.status,
                "notify_subscribers": session.notify_subscribers,
                "size": session.received,
                "sha256": session.digest.hexdigest(),
                "content_type": session.content_type,
                "account": session.account,
                "upload_id": session.upload_id,
                "session_created_at": session.created_at,
                "created_at": time.time(),
            }
        )
        return session.video

    async def _set_thumbnail(self, request: Request) -> Response:
        image = await request.body()
        video_id = request.query_params.get("videoId", "")
        with self.lock:
            if self._account_for(request) is None:
                return self._unauthenticated()
            if not any(video["id"] == video_id for video in self.videos):
                return _google_error(404, "videoNotFound", f"The video {video_id!r} was not found.")
            if not image:
                return _google_error(400, "mediaBodyRequired", "The request does not include the image.")
            self.units_used += 50
            self.thumbnails[video_id] = image
        return JSONResponse(
            {
                "kind": "youtube#thumbnailSetResponse",
                "items": [{"default": {"url": f"https://i.ytimg.com/vi/{video_id}/default.jpg"}}],
            }
        )
