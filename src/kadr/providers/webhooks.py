"""Signed webhooks following the Standard Webhooks spec (https://www.standardwebhooks.com/).

Each delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded secret
after its `whsec_` prefix). Receivers verify with any Standard Webhooks library, or `verify()` here.

Delivery refuses private addresses (see `kadr.core.netguard`) and never follows redirects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from kadr.core.netguard import UnsafeUrl, check_public_url

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
USER_AGENT = "kadr-webhooks/1"


class WebhookTransientError(Exception):
    """The receiver is unavailable (5xx, 429, 408, timeout, connection error): retry later."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class WebhookPermanentError(Exception):
    """The delivery cannot succeed as configured (other 4xx, a redirect, a URL that is not allowed)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not valid base64 (expected whsec_<base64>)") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION}," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, message_id, ts, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: int | None = None,
) -> None:
    """Raise ValueError (with the reason) unless `body` was signed with `secret` recently enough."""
    lowered = {key.lower(): value for key, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not signatures:
        raise ValueError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise ValueError("webhook-timestamp is not an integer") from None
    current = int(time.time()) if now is None else now
    if timestamp < current - tolerance_seconds:
        raise ValueError("webhook-timestamp is too old")
    if timestamp > current + tolerance_seconds:
        raise ValueError("webhook-timestamp is too far in the future")
    expected = sign(secret, message_id, timestamp, body).partition(",")[2].encode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value.encode(), expected):
            return
    raise ValueError("no matching signature")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


async def deliver(
    url: str,
    secret: str,
    message_id: str,
    payload: Mapping[str, Any],
    *,
    allowed_private: Sequence[str] = (),
    http: httpx.AsyncClient | None = None,
    timeout_seconds: float = 15.0,
) -> int:
    """POST the signed payload to `url`; the 2xx status code, or a Webhook*Error."""
    try:
        await check_public_url(url, allowed_private)
    except UnsafeUrl as exc:
        raise WebhookPermanentError(f"webhook URL not allowed: {exc.detail}") from None
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    headers = signed_headers(secret, message_id, body)
    client = http or httpx.AsyncClient()
    try:
        # Streamed so a huge response body is never read: only the status matters.
        async with client.stream(
            "POST",
            url,
            content=body,
            headers=headers,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_seconds),
        ) as response:
            status = response.status_code
            if 200 <= status < 300:
                return status
            if 300 <= status < 400:
                location = response.headers.get("location", "")
                raise WebhookPermanentError(
                    f"the webhook answered {status} redirecting to {location or 'nowhere'}; redirects "
                    "are not followed, so set the webhook URL to the final address",
                    status=status,
                )
            if status in (408, 429) or status >= 500:
                raise WebhookTransientError(
                    f"the webhook answered {status}; will retry",
                    status=status,
                    retry_after=_retry_after(response),
                )
            raise WebhookPermanentError(f"the webhook answered {status}", status=status)
    except httpx.TimeoutException as exc:
        raise WebhookTransientError(f"the webhook timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise WebhookTransientError(f"cannot reach the webhook: {exc or type(exc).__name__}") from None
    finally:
        if http is None:
            await client.aclose()
