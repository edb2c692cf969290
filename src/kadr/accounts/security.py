"""Password hashing (argon2), access tokens (JWT) and opaque secrets (refresh tokens, API keys)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import TokenExpired, Unauthorized
from kadr.core.ids import new_id

_hasher = PasswordHasher()
API_KEY_PREFIX = "kadr_"
#: Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def issue_access_token(settings: Settings, user_id: str) -> tuple[str, int]:
    now = utcnow()
    ttl = settings.access_token_ttl_seconds
    claims = {
        "sub": user_id,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": new_id("jti"),
        "typ": "access",
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256"), ttl


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("the access token has expired; refresh it") from None
    except jwt.PyJWTError:
        raise Unauthorized("the access token is not valid") from None
    if claims.get("typ") != "access":
        raise Unauthorized("this is not an access token")
    return claims


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Refresh tokens and API keys are high-entropy: a plain sha256 is enough and fast."""
    return hashlib.sha256(secret.encode()).hexdigest()
