"""Accounts: register, log in, rotate refresh tokens, log out, API keys, resolve credentials.

The only place in this domain that commits.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import ApiKey, RefreshToken, User
from kadr.accounts.ports import account_events
from kadr.accounts.principal import PERSON_SCOPES, Principal, PrincipalCache
from kadr.accounts.profile import language_from, validated_profile
from kadr.accounts.repository import USER_COLUMNS, AccountRepository, ApiKeyRepository
from kadr.accounts.scopes import DEFAULT_KEY_SCOPES, Scope, grants
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
from kadr.accounts.throttle import LoginThrottle
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import (
    Conflict,
    Forbidden,
    InsufficientScope,
    InvalidCredentials,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from kadr.core.ids import new_id
from kadr.core.logging import get_logger
from kadr.core.pagination import Page, PageResult

log = get_logger(__name__)
#: `last_used_at` is informational: writing it on every request would make each API call a write.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)
#: The API validates emails strictly (pydantic EmailStr); the CLI only needs a plausible shape,
#: so an operator may create `admin@localhost`.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalise_email(email: str) -> str:
    """The stored form of an address: trimmed and lower-cased, so lookups are case-blind."""
    return email.strip().lower()


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
    *,
    settings: Settings,
    profile: Mapping[str, str | None] | None = None,
) -> User:
    """Create a user (registration and `kadr user create`); 409 when the email is taken.

    `profile` may set `locale`, `timezone` and `default_language` (accounts.profile checks
    them: 422 naming the field). The `user.registered` event is written in the same transaction.
    """
    address = normalise_email(email)
    if not _EMAIL_SHAPE.match(address) or len(address) > 320:
        raise ValidationFailed(f"{email!r} is not an email address")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    fields = validated_profile({**(profile or {}), "display_name": display_name})
    repository = AccountRepository(session)
    if await repository.user_by_email(address) is not None:
        raise Conflict(f"an account for {address} already exists")
    user = User(
        id=new_id("usr"),
        email=address,
        # argon2 is CPU-bound for ~50 ms: keep the event loop free.
        password_hash=await asyncio.to_thread(hash_password, password),
        is_active=True,
        is_admin=is_admin,
        created_at=utcnow(),
        **fields,
    )
    repository.add(user)
    try:
        await session.flush()  # the row the event refers to goes first
        await account_events().registered(session, settings, user)
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

    def __init__(
        self, session: AsyncSession, settings: Settings, cache: PrincipalCache | None = None
    ) -> None:
        self.session = session
        self.settings = settings
        self.accounts = AccountRepository(session)
        self.api_keys = ApiKeyRepository(session)
        #: The process's authentication cache: read by `authenticate`, purged on revocations.
        self.cache = cache

    # --- users and sessions ------------------------------------------------

    async def user(self, user_id: str) -> User | None:
        """The user `user_id` (for other domains, which never query accounts themselves)."""
        return await self.accounts.user(user_id)

    async def user_by_email(self, email: str) -> User | None:
        """The user with `email`, whatever its case (for sharing with a person by address)."""
        return await self.accounts.user_by_email(normalise_email(email))

    async def register(
        self,
        email: str,
        password: str,
        display_name: str | None,
        profile: Mapping[str, str | None] | None = None,
    ) -> User:
        if not self.settings.allow_registration:
            raise Forbidden("registration is closed on this server; ask an administrator for an account")
        return await create_user(
            self.session, email, password, display_name, settings=self.settings, profile=profile
        )

    # --- profile -------------------------------------------------------------

    async def update_profile(self, user_id: str, changes: Mapping[str, str | None]) -> User:
        """Change the given profile fields (None clears one); 422 naming a wrong field."""
        values = validated_profile(changes)
        user = await self.accounts.user(user_id)
        if user is None:
            raise NotFound("the account is gone")
        for field, value in values.items():
            setattr(user, field, value)
        await self.session.commit()
        # This process's cached credentials carry the old profile; other processes' for at
        # most `auth_cache_seconds`.
        self._forget(user_id=user_id)
        return user

    async def grant_admin(self, email: str) -> User:
        """Make the user with `email` an administrator of the whole system (the admin view)."""
        user = await self.accounts.user_by_email(normalise_email(email))
        if user is None:
            raise NotFound(f"no user with the email {email}")
        user.is_admin = True
        await self.session.commit()
        self._forget(user_id=user.id)
        return user

    async def language_of(self, user_id: str) -> str:
        """The ISO 639-1 language to write in for this user: their default language, else their
        locale's, else `profile.FALLBACK_LANGUAGE`."""
        user = await self.accounts.user(user_id)
        if user is None:
            raise NotFound("the account is gone")
        return language_from(user.default_language, user.locale)

    async def login(
        self, email: str, password: str, client: str, user_agent: str | None, throttle: LoginThrottle
    ) -> IssuedTokens:
        """Tokens for valid credentials. Every failure looks the same, whatever its cause."""
        address = normalise_email(email)
        throttle.check(address, client)
        user = await self.accounts.user_by_email(address)
        stored_hash = user.password_hash if user is not None else None
        # Run argon2 even for unknown emails, so response time does not reveal who has an account.
        valid = await asyncio.to_thread(verify_password, stored_hash, password)
        if user is None or not valid or not user.is_active:
            throttle.failed(address, client)
            raise InvalidCredentials("the email or the password is wrong")
        throttle.succeeded(address, client)
        if password_needs_rehash(user.password_hash):
            # The only moment the clear password is at hand to upgrade the hash's parameters.
            user.password_hash = await asyncio.to_thread(hash_password, password)
        family_id = new_id("fam")
        refresh = self._add_refresh_token(user.id, family_id, user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id, family_id)
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
            self._forget(family_id=stored.family_id)
            raise Unauthorized("this refresh token was already used; every session of this login is revoked")
        if stored.expires_at <= now:
            raise Unauthorized("the refresh token has expired; log in again")
        user = await self.accounts.user(stored.user_id)
        if user is None or not user.is_active:
            raise Unauthorized("the account is disabled")
        fresh = self._add_refresh_token(user.id, stored.family_id, user_agent)
        await self.session.commit()
        access, ttl = issue_access_token(self.settings, user.id, stored.family_id)
        return IssuedTokens(access_token=access, expires_in=ttl, refresh_token=fresh)

    async def logout(self, token: str) -> None:
        """Revoke the login the refresh token belongs to. An unknown token is not an error:
        the answer must not tell a guesser which tokens exist."""
        stored = await self.accounts.refresh_token_by_hash(hash_secret(token))
        if stored is not None:
            await self.accounts.revoke_refresh_family(stored.user_id, stored.family_id, utcnow())
            await self.session.commit()
            self._forget(family_id=stored.family_id)

    def _forget(self, **what: str) -> None:
        if self.cache is not None:
            self.cache.forget(**what)

    async def authenticate(self, credential: str) -> Principal:
        """The active user behind an access token or an API key, and what the credential may do.

        Read-only and cheap, because every request pays it. Within `auth_cache_seconds` of the
        last check of this credential in this process: a sha256 and a dict lookup, no SQL. Otherwise
        one SELECT (the user and whether its login is still live; or the API key joined to its
        owner), and the read transaction it opened is ended (it wrote nothing): on SQLite an
        IMMEDIATE transaction holds the write lock, and the request (an upload, an event stream)
        may last. An API key's `last_used_at` is written at most once a minute (`_touch`).
        """
        digest = hash_secret(credential)
        cached = self.cache.get(digest) if self.cache is not None else None
        if cached is not None and not self._touch_due(cached):
            return cached
        opened = not self.session.in_transaction()
        try:
            if is_api_key(credential):
                principal = await self._api_key_principal(digest)
            else:
                principal = await self._access_token_principal(credential)
        finally:
            if opened and self.session.in_transaction():
                # Nothing was written: this COMMIT only ends the read (a ROLLBACK would do the
                # same but expire every object the session holds).
                await self.session.commit()
        if self._touch_due(principal) and principal.api_key_id is not None:
            principal = await self._touch(principal)
        if self.cache is not None:
            self.cache.put(digest, principal)
        return principal

    async def _access_token_principal(self, token: str) -> Principal:
        claims = decode_access_token(self.settings, token)
        family_id = str(claims["fid"])
        row = await self.accounts.user_with_live_family(str(claims["sub"]), family_id)
        if row is None or not row.is_active:
            raise Unauthorized("the account is disabled or gone")
        if not row.live:
            raise Unauthorized("this login was revoked (logged out, or its refresh token was reused)")
        return Principal(
            _user_fields(row), PERSON_SCOPES, family_id=family_id, expires_at=float(claims["exp"])
        )

    async def _api_key_principal(self, key_hash: str) -> Principal:
        row = await self.accounts.user_with_api_key(key_hash)
        if row is None or row.key_revoked_at is not None:
            raise Unauthorized("the API key is not valid")
        if not row.is_active:
            raise Unauthorized("the account is disabled or gone")
        return Principal(
            _user_fields(row),
            frozenset(row.key_scopes or ()),
            api_key_id=row.key_id,
            api_key_last_used_at=row.key_last_used_at,
        )

    @staticmethod
    def _touch_due(principal: Principal) -> bool:
        if principal.api_key_id is None:
            return False
        last = principal.api_key_last_used_at
        return last is None or utcnow() - last >= API_KEY_TOUCH_INTERVAL

    async def _touch(self, principal: Principal) -> Principal:
        """Record the key's use in a transaction of its own: one guarded UPDATE, then commit.

        Informational, so a busy database does not fail the request: the next minute tries again.
        """
        assert principal.api_key_id is not None
        now = utcnow()
        try:
            await self.api_keys.touch(principal.api_key_id, now, now - API_KEY_TOUCH_INTERVAL)
            await self.session.commit()
        except OperationalError as exc:
            await self.session.rollback()
            log.warning(
                "could not record an API key's use", key_id=principal.api_key_id, error=str(exc)[:200]
            )
        return principal.touched(now)

    # --- API keys ----------------------------------------------------------

    async def create_api_key(
        self, creator: Principal, name: str, scopes: Sequence[Scope] | None
    ) -> tuple[ApiKey, str]:
        """A new key row and the key itself, which is shown to its owner this once.

        No `scopes` means read-only (scopes.DEFAULT_KEY_SCOPES). A key can never hold a scope
        its creator lacks (only `admin` keys and people create keys at all).
        """
        wanted = sorted({Scope(s) for s in (scopes if scopes is not None else DEFAULT_KEY_SCOPES)})
        for scope in wanted:
            if not grants(creator.scopes, scope):
                raise InsufficientScope.for_scope(scope.value)
        secret = new_api_key()
        key = ApiKey(
            id=new_id("key"),
            user_id=creator.user_id,
            name=name.strip(),
            scopes=[s.value for s in wanted],
            prefix=api_key_display_prefix(secret),
            key_hash=hash_secret(secret),
            created_at=utcnow(),
        )
        self.accounts.add(key)
        await self.session.commit()
        return key, secret

    async def list_api_keys(self, user_id: str, page: Page) -> PageResult[ApiKey]:
        return await self.api_keys.list_page(user_id, page.limit, page.offset)

    async def revoke_api_key(self, user_id: str, key_id: str) -> None:
        """Revoke one of the user's keys; someone else's key, or a revoked one, is 404."""
        key = await self.api_keys.get(user_id, key_id)
        if key is None or key.revoked_at is not None:
            raise NotFound(f"no API key {key_id}")
        key.revoked_at = utcnow()
        await self.session.commit()
        self._forget(api_key_id=key.id)


def _user_fields(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The `users` columns of an authentication row, by attribute name."""
    mapping = row._mapping
    return {column.key: mapping[column] for column in USER_COLUMNS}
