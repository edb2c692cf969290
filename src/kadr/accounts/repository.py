"""Every query on users, refresh tokens and API keys.

Lookups by a secret's hash (`*_by_hash`) are the only unscoped ones: they are how a credential
finds its owner in the first place. Everything a user lists or changes is scoped to `user_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import ApiKey, RefreshToken, User
from kadr.core.pagination import PageResult
from kadr.core.repository import Repository, update_if

#: Every column of `users`, read as plain values by the authentication queries.
USER_COLUMNS = tuple(User.__table__.columns)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, obj: User | RefreshToken | ApiKey) -> None:
        self.session.add(obj)

    # --- users -------------------------------------------------------------

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        """`email` must already be normalised (lower-cased), as stored."""
        result = await self.session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def user_with_live_family(self, user_id: str, family_id: str) -> Row[*tuple[Any, ...]] | None:
        """The user's columns and `live`: whether the login `family_id` of this user still has
        an unrevoked refresh token. One SELECT, no ORM objects (the hot path of every request
        on an access token, before the cache)."""
        live = (
            exists()
            .where(
                RefreshToken.family_id == family_id,
                RefreshToken.user_id == User.id,
                RefreshToken.revoked_at.is_(None),
            )
            .label("live")
        )
        result = await self.session.execute(select(*USER_COLUMNS, live).where(User.id == user_id))
        return result.one_or_none()

    async def user_with_api_key(self, key_hash: str) -> Row[*tuple[Any, ...]] | None:
        """The owner's columns and the key's id, scopes, last use and revocation. One SELECT."""
        result = await self.session.execute(
            select(
                *USER_COLUMNS,
                ApiKey.id.label("key_id"),
                ApiKey.scopes.label("key_scopes"),
                ApiKey.last_used_at.label("key_last_used_at"),
                ApiKey.revoked_at.label("key_revoked_at"),
            )
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash)
        )
        return result.one_or_none()

    # --- refresh tokens ----------------------------------------------------

    async def refresh_token_by_hash(self, token_hash: str) -> RefreshToken | None:
        result = await self.session.execute(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        return result.scalar_one_or_none()

    async def mark_refresh_token_used(self, token_id: str, when: datetime) -> bool:
        """Atomically take a token out of use: False if another request used or revoked it first."""
        unused = (RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        return await update_if(self.session, RefreshToken, token_id, *unused, used_at=when)

    async def revoke_refresh_family(self, user_id: str, family_id: str, when: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.user_id == user_id,
                RefreshToken.family_id == family_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=when)
        )


class ApiKeyRepository(Repository[ApiKey]):
    """A user's API keys (owned through `user_id`)."""

    model = ApiKey
    owner_column = "user_id"

    async def list_page(self, owner_id: str, limit: int, offset: int) -> PageResult[ApiKey]:
        """A page of the user's unrevoked keys, newest first, and how many there are in all."""
        return await self._page(owner_id, limit, offset, ApiKey.revoked_at.is_(None))

    async def touch(self, key_id: str, when: datetime, unless_since: datetime) -> None:
        """Record a use, unless one since `unless_since` is recorded already (another process)."""
        await self.update(
            key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < unless_since), last_used_at=when
        )
