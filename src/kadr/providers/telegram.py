"""Telegram Bot API client: the only module that talks to api.telegram.org.

Every answer goes through `_classify`, which turns Bot API errors into:

- `TelegramRetryAfter` (429, with `retry_after` seconds from `parameters.retry_after`),
- `TelegramTransientError` (5xx, timeouts, connection errors): retry later,
- `TelegramPermanentError` (400 chat not found / bad request, 401 bad token, 403 bot blocked or kicked,
  413 file too large, …): a retry cannot fix it.

The bot token is part of every request URL; it never appears in exception messages or logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

TELEGRAM_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096
_ELLIPSIS = "…"
_REDACTED = "<redacted>"
_RETRY_AFTER_IN_TEXT = re.compile(r"retry after (\d+(?:\.\d+)?)", re.IGNORECASE)
#: `<bot id>:<secret>` as @BotFather hands it out. The secret part is 35 characters today; the length
#: is not pinned so that stand-ins and future formats pass, but nothing that could break the URL does.
BOT_TOKEN_FORMAT = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,200}")


class TelegramError(Exception):
    """A Bot API call failed.

    `description` is Telegram's own text (plus a hint on what to do, where we know one); `str()` also
    names the method. Neither ever contains the bot token.
    """

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        parameters: Mapping[str, Any] | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(f"Telegram {method}: {description}" if method else description)
        self.description = description
        self.method = method
        self.status = status
        self.error_code = error_code
        self.parameters: dict[str, Any] = dict(parameters or {})


class TelegramRetryAfter(TelegramError):
    """429 Too Many Requests: wait `retry_after` seconds before sending to this chat again."""

    def __init__(
        self,
        description: str,
        *,
        retry_after: float,
        status: int | None = 429,
        error_code: int | None = 429,
        parameters: Mapping[str, Any] | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(
            description, status=status, error_code=error_code, parameters=parameters, method=method
        )
        self.retry_after = retry_after


class TelegramTransientError(TelegramError):
    """Telegram is unavailable or unreachable (5xx, timeout, connection error): retry later."""


class TelegramPermanentError(TelegramError):
    """The request cannot succeed as is (bad token, chat not found, bot blocked, file too large…)."""


class FileTooLarge(TelegramPermanentError):
    """The file is above the bot upload limit; raised before anything is sent."""

    def __init__(self, description: str, *, size: int, limit: int, method: str | None = "sendVideo") -> None:
        super().__init__(description, status=None, error_code=413, method=method)
        self.size = size
        self.limit = limit


class MalformedBotToken(TelegramPermanentError):
    """The token is not of the `<bot id>:<secret>` shape; raised before any request."""


def is_bot_token(token: str) -> bool:
    """Whether `token` has the shape of a Bot API token (it may still be wrong or revoked)."""
    return BOT_TOKEN_FORMAT.fullmatch(token) is not None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 code units (how Telegram counts), ending with "…" if cut."""
    if _utf16_len(text) <= limit:
        return text
    budget = limit - 1  # room for the ellipsis
    out: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > budget:
            break
        out.append(char)
        used += width
    return "".join(out).rstrip() + _ELLIPSIS


def _classify(method: str, response: httpx.Response) -> Any:
    """The `result` of a Bot API answer, or the matching TelegramError."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = f"HTTP {status} with a non-JSON answer"
        if status == 429:
            retry = _retry_after_header(response) or 1.0
            raise TelegramRetryAfter(text, retry_after=retry, status=status, method=method)
        if status >= 500 or status in (408, 425):
            raise TelegramTransientError(text, status=status, method=method)
        if status >= 300 or status < 200:
            raise TelegramPermanentError(text, status=status, method=method)
        raise TelegramTransientError(text, status=status, method=method)

    if body.get("ok") is True and 200 <= status < 300:
        return body.get("result")

    error_code = body.get("error_code")
    code = int(error_code) if isinstance(error_code, int) else status
    description = str(body.get("description") or f"HTTP {status}")
    raw_parameters = body.get("parameters")
    parameters: dict[str, Any] = raw_parameters if isinstance(raw_parameters, dict) else {}
    message = description
    fields: dict[str, Any] = {
        "status": status,
        "error_code": code,
        "parameters": parameters,
        "method": method,
    }
    if code == 429 or status == 429:
        retry_after = _retry_after(parameters, description, response)
        raise TelegramRetryAfter(message, retry_after=retry_after, **fields)
    if code >= 500 or status >= 500 or code in (408, 425):
        raise TelegramTransientError(message, **fields)
    if "migrate_to_chat_id" in parameters:
        new_id = parameters["migrate_to_chat_id"]
        message += f" (the group became the supergroup {new_id}; update the chat id)"
    elif code == 401:
        message += " (the bot token is wrong or was revoked; reconnect with a token from @BotFather)"
    elif code == 403:
        message += " (add the bot to the chat again, as an administrator allowed to post)"
    raise TelegramPermanentError(message, **fields)


def _retry_after_header(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _retry_after(parameters: Mapping[str, Any], description: str, response: httpx.Response) -> float:
    value = parameters.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    found = _RETRY_AFTER_IN_TEXT.search(description)
    if found:
        return float(found.group(1))
    return _retry_after_header(response) or 1.0


class TelegramClient:
    """An async Bot API client for one bot. Use `async with` or call `aclose()`."""

    def __init__(
        self,
        bot_token: str,
        *,
        api_url: str = "https://api.telegram.org",
        http: httpx.AsyncClient | None = None,
        max_upload_bytes: int = TELEGRAM_MAX_UPLOAD_BYTES,
        timeout_seconds: float = 120.0,
    ) -> None:
        if not is_bot_token(bot_token):
            raise MalformedBotToken(
                "the bot token is empty or malformed; copy it from @BotFather", error_code=401
            )
        self._token = bot_token
        self._base = f"{api_url.rstrip('/')}/bot{bot_token}"
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient()
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 15.0))
        self.max_upload_bytes = max_upload_bytes

    async def __aenter__(self) -> TelegramClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def _redact(self, text: str) -> str:
        return text.replace(self._token, _REDACTED)

    async def _call(
        self,
        method: str,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, IO[bytes], str]] | None = None,
    ) -> Any:
        url = f"{self._base}/{method}"
        try:
            if files:
                response = await self._http.post(url, data=data, files=files, timeout=self._timeout)
            else:
                response = await self._http.post(url, json=dict(data or {}), timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise TelegramTransientError(f"timed out ({type(exc).__name__})", method=method) from None
        except httpx.TransportError as exc:
            detail = self._redact(str(exc)) or type(exc).__name__
            raise TelegramTransientError(f"cannot reach the Bot API ({detail})", method=method) from None
        return _classify(method, response)

    async def get_me(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("getMe")
        return result

    async def get_chat(self, chat_id: str | int) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("getChat", {"chat_id": chat_id})
        return result

    async def send_message(
        self, chat_id: str | int, text: str, *, disable_web_page_preview: bool = True
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": truncate(text, MESSAGE_LIMIT)}
        if disable_web_page_preview:
            # Bot API 7.0 replaced `disable_web_page_preview` with `link_preview_options`.
            payload["link_preview_options"] = {"is_disabled": True}
        result: dict[str, Any] = await self._call("sendMessage", payload)
        return result

    async def send_video(
        self,
        chat_id: str | int,
        path: Path,
        *,
        caption: str = "",
        supports_streaming: bool = True,
        thumbnail: Path | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
    ) -> dict[str, Any]:
        """Upload `path` as a video (multipart, streamed from the open file)."""
        path = Path(path)
        size = path.stat().st_size
        if size > self.max_upload_bytes:
            raise FileTooLarge(
                f"{path.name} is {_mb(size)} ({size} bytes); Telegram bots can send "
                f"files up to {_mb(self.max_upload_bytes)} (the Bot API's 50 MB limit). "
                "Publish a shorter clip or a lower bitrate.",
                size=size,
                limit=self.max_upload_bytes,
            )
        data: dict[str, str] = {
            "chat_id": str(chat_id),
            "supports_streaming": "true" if supports_streaming else "false",
        }
        if caption:
            data["caption"] = truncate(caption, CAPTION_LIMIT)
        for key, value in (("width", width), ("height", height), ("duration", duration)):
            if value is not None:
                data[key] = str(int(value))
        # httpx streams the multipart body from the open files in small reads: the video is never
        # held in memory as a whole.
        with ExitStack() as stack:
            video = stack.enter_context(path.open("rb"))  # noqa: ASYNC230
            files: dict[str, tuple[str, IO[bytes], str]] = {"video": (path.name, video, "video/mp4")}
            if thumbnail is not None:
                thumb = Path(thumbnail)
                thumb_file = stack.enter_context(thumb.open("rb"))  # noqa: ASYNC230
                files["thumbnail"] = (thumb.name, thumb_file, "image/jpeg")
            result: dict[str, Any] = await self._call("sendVideo", data, files)
        return result


def message_url(chat: Mapping[str, Any], message_id: int) -> str | None:
    """A t.me link to a message, when Telegram has one for this kind of chat."""
    username = chat.get("username")
    if username:
        return f"https://t.me/{str(username).lstrip('@')}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat.get("type") in ("supergroup", "channel") and chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


def redact_token(text: str) -> str:
    """`text` with anything that looks like a bot token (`123456:ABC…`) replaced."""
    return re.sub(r"\d{5,}:[A-Za-z0-9_-]{20,}", _REDACTED, text)


__all__ = [
    "BOT_TOKEN_FORMAT",
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "TELEGRAM_MAX_UPLOAD_BYTES",
    "FileTooLarge",
    "MalformedBotToken",
    "TelegramClient",
    "TelegramError",
    "TelegramPermanentError",
    "TelegramRetryAfter",
    "TelegramTransientError",
    "is_bot_token",
    "message_url",
    "redact_token",
    "truncate",
]
