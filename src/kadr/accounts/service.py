"""Accounts: register, log in, rotate refresh tokens, log out, API keys, resolve credentials.

The only place in this domain that commits.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import ApiKey, RefreshToken, User
from kadr.accounts.repository import AccountRepository
from kadr.accounts.security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    api_key_display_prefix,
    decode_access_token,
    hash_password,
    hash_secret,
    is_api_key,
    issue_access_token,
    new_api_key,
    new_refresh_token,
    password_needs_rehash,
    verify_password,
)
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from kadr.core.ids import new_id
from kadr.core.ratelimit import RateLimiter

#: Failed logins allowed per email and client address within the window.
LOGIN_FAILURE_LIMIT = 10
LOGIN_FAILURE_WINDOW_SECONDS = 60.0
#: `last_used_at` is informational: writing it on every request would make each API call a write.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)
#: The API validates emails strictly (pydantic EmailStr); the CLI only needs a plausible shape,
#: so an operator may create `admin@localhost`.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalise_email(email: str) -> str:
    """The stored form of an address: trimmed and lower-cased, so lookups are case-blind."""
    return email.strip().lower()


def new_login_throttle() -> RateLimiter:
    """A counter of failed logins per `email|client` (one per API process)."""
    return RateLimiter(limit=LOGIN_FAILURE_LIMIT, window_seconds=LOGIN_FAILURE_WINDOW_SECONDS)


@dataclass(frozen=True)
class IssuedTokens:
    """What a successful login or refresh hands out."""

    access_token: str
    expires_in: int
    refresh_token: str


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    display_name: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create a user (registration and `kadr user create`); 409 when the email is taken."""
    address = normalise_email(email)
    if not _EMAIL_SHAPE.match(address) or len(address) > 320:
        raise ValidationFailed(f"{email!r} is not an email address")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    repository = AccountRepository(session)
    if await repository.user_by_email(address) is not None:
        raise Conflict(f"an account for {address} already exists")
    user = User(
        id=new_id("usr"),
        email=address,
        # argon2 is CPU-bound for ~50 ms: keep the event loop free.
        password_hash=await asyncio.to_thread(hash_password, password),
        display_name=(display_name or "").strip()[:120],
        is_active=True,
        is_admin=is_admin,
        created_at=utcnow(),
    )
    repository.add(user)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent registration of the same address won
        await session.rollback()
        raise Conflict(f"an account for {address} already exists") from None
    return user


async def get_or_create_local_user(session: AsyncSession, email: str) -> str:
    """The owner of work done with `kadr process` (it has no password: it cannot log in)."""
    repository = AccountRepository(session)
    address = normalise_email(email)
    user = await repository.user_by_email(address)
    if user is None:
        user = User(
            id=new_id("usr"),
            email=address,
            password_hash="!",  # not an argon2 hash: verify_password always says no
            display_name="kadr process",
            created_at=utcnow(),
        )
        repository.add(user)
        await session.commit()
    return user.id


class AccountService:
    """The accounts domain's operations over one session."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.accounts = AccountRepository(session)

    # --- users and sessions ------------------------------------------------

    async def register(self, email: str, password: str, display_name: str | None) -> User:
        if not self.settings.allow_registration:
            raise Forbidden("registration is closed on this server; ask an administrator for an account")
        return await create_user(self.session, email, password, display_name)

    async def login(
        self, email: str, password: str, client: str, user_agent: str | None, throttle: RateLimiter
    ) -> IssuedTokens:
        """Tokens for valid credentials. Every failure looks the same, whatever its cause."""
        address = normalise_email(email)
        throttle_key = f"{address}|{client}"
        wait = throttle.retry_after(throttle_key)
        if wait > 0:
            raise RateLimited(
                "too many failed logins; wait before trying again", retry_after=max(1, math.ceil(wait))
            )
        user = await self.accounts.user_by_email(address)
        stored_hash = user.password_hash if user is not None else None
        # Run argon2 even for unknown emails, so response time does not reveal who has an account.
        valid = await asyncio.to_thread(verify_password, stored_hash, password)
        if user is None or not valid or not user.is_active:
            throttle.hit(throttle_key)
            raise InvalidCredentials("the email or the password is wrong")
        throttle.reset(throttle_key)
        if password_needs_rehash(user.password_hash):
            # The only moment the clear password is at hand to upgrade the hash's parameters.
            user.password_hash = await asyncio.to_thread(hash_password, password)
        refresh = self._add_refresh_token(user.id, new_id("fam"), user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id)
        return IssuedTokens(access_token=access, expires_in=ttl, refresh_token=refresh)

    def _add_refresh_token(self, user_id: str, family_id: str, user_agent: str | None) -> str:
        """Stage a new refresh token row (hash only) and return the token itself."""
        token = new_refresh_token()
        now = utcnow()
        self.accounts.add(
            RefreshToken(
                id=new_id("rtk"),
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_secret(token),
                # Sliding: a login stays alive while it is refreshed at least every ttl days.
                expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
                created_at=now,
                user_agent=(user_agent or "")[:255] or None,
            )
        )
        return token

    async def refresh(self, token: str, user_agent: str | None) -> IssuedTokens:
        """Rotate: the presented token is spent and a new one of the same family is returned.

        Presenting a spent token means two parties hold it (it leaked): the whole family is
        revoked, including the newest token, and both have to log in again.
        """
        now = utcnow()
        stored = await self.accounts.refresh_token_by_hash(hash_secret(token))
        if stored is None or stored.revoked_at is not None:
            raise Unauthorized("the refresh token is not valid; log in again")
        if stored.used_at is not None or not await self.accounts.mark_refresh_token_used(stored.id, now):
            await self.accounts.revoke_refresh_family(stored.user_id, stored.family_id, now)
            await self.session.commit()
            raise Unauthorized("this refresh token was already used; every session of this login is revoked")
        if stored.expires_at <= now:
            raise Unauthorized("the refresh token has expired; log in again")
        user = await self.accounts.user(stored.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the account is disabled")
        fresh = self._add_refresh_token(user.id, stored.family_id, user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id)
        return IssuedTokens(access_token=access, expires_in=ttl, refresh_token=fresh)

    async def logout(self, token: str) -> None:
        """Revoke the login the refresh token belongs to. An unknown token is not an error:
        the answer must not tell a guesser which tokens exist."""
        stored = await self.accounts.refresh_token_by_hash(hash_secret(token))
        if stored is not None:
            await self.accounts.revoke_refresh_family(stored.user_id, stored.family_id, utcnow())
            await self.session.commit()

    async def authenticate(self, credential: str) -> User:
        """The active user behind an access token or an API key. No argon2 here: one indexed
        lookup (sha256 for keys, signature check for JWTs) and a primary-key read."""
        if is_api_key(credential):
            key = await self.accounts.api_key_by_hash(hash_secret(credential))
            if key is None or key.revoked_at is not None:
                raise Unauthorized("the API key is not valid")
            now = utcnow()
            if key.last_used_at is None or now - key.last_used_at >= API_KEY_TOUCH_INTERVAL:
                await self.accounts.touch_api_key(key.id, now)
            user_id = key.user_id
        else:
            user_id = str(decode_access_token(self.settings, credential)["sub"])
        user = await self.accounts.user(user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the account is disabled or gone")
        # End the transaction now: on SQLite it holds the write lock until closed, and a long
        # request (an upload) must not keep other writers waiting.
        await self.session.commit()
        return user

    # --- API keys ----------------------------------------------------------

    async def create_api_key(self, user_id: str, name: str) -> tuple[ApiKey, str]:
        """A new key row and the key itself, which is shown to its owner this once."""
        secret = new_api_key()
        key = ApiKey(
            id=new_id("key"),
            user_id=user_id,
            name=name.strip(),
            prefix=api_key_display_prefix(secret),
            key_hash=hash_secret(secret),
            created_at=utcnow(),
        )
        self.accounts.add(key)
        await self.session.commit()
        return key, secret

    async def list_api_keys(self, user_id: str, limit: int, offset: int) -> tuple[Sequence[ApiKey], int]:
        return await self.accounts.active_api_keys(user_id, limit, offset)

    async def revoke_api_key(self, user_id: str, key_id: str) -> None:
        """Revoke one of the user's keys; someone else's key, or a revoked one, is 404."""
        key = await self.accounts.api_key(user_id, key_id)
        if key is None or key.revoked_at is not None:
            raise NotFound(f"no API key {key_id}")
        key.revoked_at = utcnow()
        await self.session.commit()
