"""Password hashing (argon2), access tokens (JWT) and opaque secrets (refresh tokens, API keys).

Pure functions: nothing here touches the database.
"""

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

#: Every API key starts with this, so a credential's kind is known without a lookup
#: (and secret scanners can spot leaked keys).
API_KEY_PREFIX = "kadr_"
#: How many characters of a key (after `kadr_`) are kept in clear so its owner can tell keys apart.
API_KEY_VISIBLE_CHARS = 6
ACCESS_TOKEN_TYPE = "access"
MIN_PASSWORD_LENGTH = 10
#: argon2 takes any length, but there is no reason to hash megabytes sent by a stranger.
MAX_PASSWORD_LENGTH = 1024
JWT_ALGORITHM = "HS256"

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so "no such user" takes as long as "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


# --- passwords -------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash (salted, with the library's current cost parameters). CPU-heavy: ~50 ms."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; `None` (unknown user) still spends the time of a real check."""
    try:
        matches = _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash on next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


# --- access tokens ---------------------------------------------------------


def issue_access_token(settings: Settings, user_id: str, family_id: str) -> tuple[str, int]:
    """A signed JWT for `user_id` and its lifetime in seconds.

    `fid` names the login (refresh-token family) it came from, so revoking the login (logout,
    a reused refresh token) also stops its access tokens, not only its refresh tokens.
    """
    now = utcnow()
    ttl = settings.access_token_ttl_seconds
    claims = {
        "sub": user_id,
        "fid": family_id,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        "jti": new_id("jti"),
        "typ": ACCESS_TOKEN_TYPE,
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM), ttl


def decode_access_token(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a valid access token; `TokenExpired` or `Unauthorized` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            # A fixed list: never let the token pick its own algorithm ("none", RS/HS confusion).
            algorithms=[JWT_ALGORITHM],
            # No `fid`, no login to check it against: such a token cannot be revoked, so refuse it.
            options={"require": ["exp", "sub", "fid"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("the access token has expired; refresh it") from None
    except jwt.PyJWTError:
        raise Unauthorized("the access token is not valid") from None
    # Other tokens signed with the same key (download links) must not work as logins.
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise Unauthorized("this is not an access token")
    return claims


# --- opaque secrets --------------------------------------------------------


def new_secret(prefix: str = "") -> str:
    """`prefix` + 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def new_refresh_token() -> str:
    """A refresh token. No `kadr_` prefix: it must never be mistaken for an API key."""
    return new_secret()


def new_api_key() -> str:
    """An API key: `kadr_` + 256 random bits."""
    return new_secret(API_KEY_PREFIX)


def is_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)


def api_key_display_prefix(key: str) -> str:
    """The part of a key kept in clear (`kadr_` + a few characters), to tell keys apart in lists."""
    return key[: len(API_KEY_PREFIX) + API_KEY_VISIBLE_CHARS]


def hash_secret(secret: str) -> str:
    """sha256 hex of a refresh token or API key.

    They carry 256 random bits, so a fast unsalted hash is safe (no dictionary to try) and lets
    a request be authenticated with one indexed lookup instead of an argon2 run.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
