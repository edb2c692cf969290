"""Short-lived signed tokens for URLs that work without an auth header
(upload and download links in embedded mode, the counterpart of S3 presigned URLs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Forbidden, TokenExpired


def sign(settings: Settings, purpose: str, subject: str, expires_seconds: int, **claims: Any) -> str:
    now = utcnow()
    payload = {
        "typ": purpose,
        "sub": subject,
        "iat": now,
        "exp": now + timedelta(seconds=expires_seconds),
        **claims,
    }
    return jwt.encode(payload, settings.secret_key.get_secret_value(), algorithm="HS256")


def verify(settings: Settings, purpose: str, token: str, subject: str) -> dict[str, Any]:
    """The token's claims, if it was signed by us for this purpose and subject and is still valid."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, settings.secret_key.get_secret_value(), algorithms=["HS256"], options={"require": ["exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("this link has expired; ask for a new one") from None
    except jwt.PyJWTError:
        raise Forbidden("this link's signature is not valid") from None
    if claims.get("typ") != purpose or claims.get("sub") != subject:
        raise Forbidden("this link is not valid for this resource")
    return claims
