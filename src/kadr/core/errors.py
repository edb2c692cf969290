"""Domain errors and their RFC 9457 `application/problem+json` rendering.

Every error a client can see has a stable `type` URI (`PROBLEM_BASE` + slug),
a human `title`, and a `detail` that says what to change.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://kadr.dev/problems/"


class KadrError(Exception):
    """Base of every error kadr reports to a client."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra
        # Response headers the error needs (`Connection: close` after an unread body, …).
        self.headers: dict[str, str] = {}

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(KadrError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(KadrError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid credentials"


class TokenExpired(Unauthorized):
    slug, title = "token-expired", "Token expired"


class Forbidden(KadrError):
    status, slug, title = 403, "forbidden", "Forbidden"


class InsufficientScope(Forbidden):
    """The credential is valid but its scopes do not cover the operation (RFC 6750 §3.1)."""

    slug, title = "insufficient-scope", "Insufficient scope"

    @classmethod
    def for_scope(cls, scope: str) -> InsufficientScope:
        error = cls(f"this API key lacks the `{scope}` scope", required_scope=scope)
        error.headers = {
            **getattr(error, "headers", {}),
            "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"',
        }
        return error


class CsrfFailed(Forbidden):
    """A browser request that spends the session cookie without the matching CSRF header."""

    slug, title = "csrf-failed", "CSRF check failed"


class NotFound(KadrError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(KadrError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(KadrError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(KadrError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class RequestHeadersTooLarge(KadrError):
    status, slug, title = 431, "request-headers-too-large", "Request header fields too large"


class ValidationFailed(KadrError):
    status, slug, title = 422, "validation-failed", "Validation failed"


class IdempotencyKeyReused(ValidationFailed):
    """The same Idempotency-Key came with a different request."""

    slug, title = "idempotency-key-reused", "Idempotency key reused"


class InvalidMedia(ValidationFailed):
    """The content is not a decodable video or audio file."""

    slug, title = "invalid-media", "Not a playable video or audio file"


class RateLimited(KadrError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class ServiceUnavailable(KadrError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class PermanentJobError(Exception):
    """Raised by job handlers for failures a retry cannot fix (bad input): never retried."""


class RetryLater(Exception):
    """Raised by job handlers to run again later without spending an attempt: waiting for a
    provider's pacing slot, quota reset or `retry_after` is not a failure."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = max(0.0, delay_seconds)
        self.reason = reason


class NotConfigured(KadrError):
    """A feature the operator has not configured (e.g. no Google OAuth client)."""

    status, slug, title = 501, "not-configured", "Not configured on this server"


class ProviderError(KadrError):
    """An outside service (Google, Telegram) refused or failed a request made for the client."""

    status, slug, title = 502, "provider-error", "The provider refused the request"


class Cancelled(Exception):
    """Raised inside work that was cancelled (by a user, a deadline or shutdown)."""
