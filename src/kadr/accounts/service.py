"""Accounts: register, log in, rotate refresh tokens, log out, API keys, resolve credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import ApiKey, RefreshToken, User
from kadr.accounts.repository import AccountRepository
from kadr.accounts.security import (
    API_KEY_PREFIX,
    decode_access_token,
    hash_password,
    hash_secret,
    issue_access_token,
    new_secret,
    password_needs_rehash,
    verify_password,
)
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, Forbidden, InvalidCredentials, NotFound, RateLimited, Unauthorized
from kadr.core.ids import new_id
from kadr.core.ratelimit import RateLimiter

#: Failed logins allowed per email and client address per minute.
LOGIN_FAILURES = RateLimiter(limit=10, window_seconds=60)
MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    display_name: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create a user (also `kadr user create`); 409 when the email is taken."""
    if len(password) < MIN_PASSWORD_LENGTH:
        from kadr.core.errors import ValidationFailed

        raise ValidationFailed(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    repository = AccountRepository(session)
    address = normalise_email(email)
    if await repository.user_by_email(address) is not None:
        raise Conflict(f"an account for {address} already exists")
    user = User(
        id=new_id("usr"),
        email=address,
        password_hash=await asyncio.to_thread(hash_password, password),
        display_name=display_name or "",
        is_admin=is_admin,
        created_at=utcnow(),
    )
    repository.add(user)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent registration won
        await session.rollback()
        raise Conflict(f"an account for {address} already exists") from None
    return user


async def get_or_create_local_user(session: AsyncSession, email: str) -> str:
    """The owner of work done with `kadr process` (it has no password: it cannot log in)."""
    repository = AccountRepository(session)
    user = await repository.user_by_email(email)
    if user is None:
        user = User(id=new_id("usr"), email=email, password_hash="!", display_name="kadr process")
        repository.add(user)
        await session.commit()
    return user.id


class AccountService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.accounts = AccountRepository(session)

    async def register(self, email: str, password: str, display_name: str) -> User:
        if not self.settings.allow_registration:
            raise Forbidden("registration is closed on this server; ask an administrator for an account")
        return await create_user(self.session, email, password, display_name)

    async def login(
        self, email: str, password: str, client: str, user_agent: str | None
    ) -> tuple[str, int, str]:
        """(access_token, expires_in, refresh_token) for valid credentials."""
        address = normalise_email(email)
        throttle_key = f"{address}|{client}"
        wait = LOGIN_FAILURES.retry_after(throttle_key)
        if wait > 0:
            raise RateLimited("too many failed logins; wait before trying again", retry_after=int(wait) + 1)
        user = await self.accounts.user_by_email(address)
        stored = user.password_hash if user is not None else None
        valid = await asyncio.to_thread(verify_password, stored, password)
        if user is None or not valid or not user.is_active:
            LOGIN_FAILURES.hit(throttle_key)
            raise InvalidCredentials("the email or the password is wrong")
        LOGIN_FAILURES.reset(throttle_key)
        if password_needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        refresh = self._new_refresh_token(user.id, new_id("fam"), user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id)
        return access, ttl, refresh

    def _new_refresh_token(self, user_id: str, family_id: str, user_agent: str | None) -> str:
        secret = new_secret()
        now = utcnow()
        self.accounts.add(
            RefreshToken(
                id=new_id("rtk"),
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_secret(secret),
                expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
                created_at=now,
                user_agent=(user_agent or "")[:255] or None,
            )
        )
        return secret

    async def refresh(self, token: str, user_agent: str | None) -> tuple[str, int, str]:
        """Rotate: the presented token is spent and a new one of the same family is returned.
        Presenting a spent token means it leaked: the whole family is revoked."""
        stored = await self.accounts.refresh_token_by_hash(hash_secret(token))
        now = utcnow()
        if stored is None or stored.revoked_at is not None:
            raise Unauthorized("the refresh token is not valid; log in again")
        if stored.expires_at < now:
            raise Unauthorized("the refresh token has expired; log in again")
        if stored.used_at is not None or not await self.accounts.mark_refresh_token_used(stored.id, now):
            await self.accounts.revoke_family(stored.family_id, now)
            await self.session.commit()
            raise Unauthorized("this refresh token was already used; every session of this login is revoked")
        user = await self.accounts.user(stored.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the account is disabled")
        fresh = self._new_refresh_token(user.id, stored.family_id, user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id)
        return access, ttl, fresh

    async def logout(self, token: str) -> None:
        stored = await self.accounts.refresh_token_by_hash(hash_secret(token))
        if stored is not None:
            await self.accounts.revoke_family(stored.family_id, utcnow())
            await self.session.commit()

    async def authenticate(self, credential: str) -> User:
        """The active user behind an access token or an API key."""
        if credential.startswith(API_KEY_PREFIX):
            key = await self.accounts.api_key_by_hash(hash_secret(credential))
            if key is None or key.revoked_at is not None:
                raise Unauthorized("the API key is not valid")
            await self.accounts.touch_api_key(key.id, utcnow())
            user_id = key.user_id
        else:
            user_id = str(decode_access_token(self.settings, credential)["sub"])
        user = await self.accounts.user(user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the account is disabled or gone")
        # End the read transaction now: on SQLite it holds the write lock until closed, and
        # a long request (an upload) must not keep other writers waiting.
        await self.session.commit()
        return user

    async def create_api_key(self, user_id: str, name: str) -> tuple[ApiKey, str]:
        secret = new_secret(API_KEY_PREFIX)
        key = ApiKey(
            id=new_id("key"),
            user_id=user_id,
            name=name,
            prefix=secret[: len(API_KEY_PREFIX) + 6],
            key_hash=hash_secret(secret),
            created_at=utcnow(),
        )
        self.accounts.add(key)
        await self.session.commit()
        return key, secret

    async def api_keys(self, user_id: str, limit: int, offset: int) -> tuple[Sequence[ApiKey], int]:
        return await self.accounts.api_keys(user_id, limit, offset)

    async def revoke_api_key(self, user_id: str, key_id: str) -> None:
        key = await self.accounts.api_key(user_id, key_id)
        if key is None or key.revoked_at is not None:
            raise NotFound(f"no API key {key_id}")
        key.revoked_at = utcnow()
        await self.session.commit()
