"""The accounts service against the real (SQLite) database, below HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import ApiKey, RefreshToken, User
from kadr.accounts.principal import PERSON_SCOPES, Principal
from kadr.accounts.security import decode_access_token, hash_secret, verify_password
from kadr.accounts.service import (
    API_KEY_TOUCH_INTERVAL,
    AccountService,
    create_user,
    get_or_create_local_user,
)
from kadr.accounts.throttle import LOGIN_FAILURE_LIMIT, LoginThrottle
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    NotFound,
    RateLimited,
    TokenExpired,
    Unauthorized,
    ValidationFailed,
)
from kadr.core.pagination import Page

pytestmark = pytest.mark.anyio
PASSWORD = "a-long-enough-password"


async def _login(service: AccountService, email: str, throttle: LoginThrottle | None = None) -> str:
    """Log in and return the refresh token."""
    tokens = await service.login(email, PASSWORD, "10.0.0.1", "pytest", throttle or LoginThrottle())
    return tokens.refresh_token


def person(user: User) -> Principal:
    """The user's own session, as authenticate would return it for an access token."""
    return Principal({"id": user.id}, PERSON_SCOPES, family_id="fam_test")


async def _family(session: AsyncSession, token: str) -> list[tuple[str, bool, bool]]:
    """(id, used, revoked) of every token in the family of `token`, read fresh from the database."""
    family = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_secret(token))
    )
    rows = await session.execute(
        select(RefreshToken.id, RefreshToken.used_at, RefreshToken.revoked_at)
        .where(RefreshToken.family_id == family)
        .order_by(RefreshToken.created_at)
    )
    return [(row.id, row.used_at is not None, row.revoked_at is not None) for row in rows]


async def test_create_user_normalises_and_hashes(session: AsyncSession, settings: Settings) -> None:
    user = await create_user(
        session, "  Grace@Example.COM ", PASSWORD, display_name=" Grace ", is_admin=True, settings=settings
    )
    assert user.id.startswith("usr_") and user.email == "grace@example.com"
    assert user.display_name == "Grace" and user.is_admin and user.is_active
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert verify_password(user.password_hash, PASSWORD)
    assert user.created_at.tzinfo is not None
    # The CLI may create addresses the public API would refuse.
    assert (await create_user(session, "admin@localhost", PASSWORD, settings=settings)).display_name == ""


async def test_create_user_refuses_duplicates_and_bad_input(
    session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, "taken@example.com", PASSWORD, settings=settings)
    with pytest.raises(Conflict):
        await create_user(session, "TAKEN@example.com", PASSWORD, settings=settings)
    with pytest.raises(ValidationFailed, match="password"):
        await create_user(session, "short@example.com", "x" * 9, settings=settings)
    with pytest.raises(ValidationFailed, match="email"):
        await create_user(session, "no-at-sign", PASSWORD, settings=settings)
    with pytest.raises(ValidationFailed, match="email"):
        await create_user(session, "two words@example.com", PASSWORD, settings=settings)


async def test_registration_follows_the_setting(session: AsyncSession, settings: Settings) -> None:
    closed = AccountService(session, settings.model_copy(update={"allow_registration": False}))
    with pytest.raises(Forbidden):
        await closed.register("new@example.com", PASSWORD, None)
    user = await AccountService(session, settings).register("new@example.com", PASSWORD, None)
    assert user.email == "new@example.com"


async def test_login_issues_tokens_and_stores_only_a_hash(session: AsyncSession, settings: Settings) -> None:
    user = await create_user(session, "tok@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    tokens = await service.login("Tok@Example.com", PASSWORD, "10.0.0.1", "pytest/1", LoginThrottle())
    assert decode_access_token(settings, tokens.access_token)["sub"] == user.id
    assert tokens.expires_in == settings.access_token_ttl_seconds
    row = (await session.execute(select(RefreshToken).where(RefreshToken.user_id == user.id))).scalar_one()
    assert row.token_hash == hash_secret(tokens.refresh_token)
    assert tokens.refresh_token not in {row.token_hash, row.id, row.family_id}
    assert row.user_agent == "pytest/1" and row.used_at is None and row.revoked_at is None
    expected = row.created_at + timedelta(days=settings.refresh_token_ttl_days)
    assert abs(row.expires_at - expected) < timedelta(seconds=1)


async def test_login_upgrades_an_outdated_hash(session: AsyncSession, settings: Settings) -> None:
    user = await create_user(session, "old@example.com", PASSWORD, settings=settings)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    await session.execute(update(User).where(User.id == user.id).values(password_hash=weak))
    await session.commit()
    session.expire_all()
    await _login(AccountService(session, settings), "old@example.com")
    stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None and stored != weak and verify_password(stored, PASSWORD)


async def test_failed_logins_are_counted_per_email_and_client(
    session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, "count@example.com", PASSWORD, settings=settings)
    service, throttle = AccountService(session, settings), LoginThrottle()
    for _ in range(LOGIN_FAILURE_LIMIT):
        with pytest.raises(InvalidCredentials):
            await service.login("count@example.com", "wrong-password", "10.0.0.1", None, throttle)
    with pytest.raises(RateLimited) as raised:
        await service.login("COUNT@example.com", PASSWORD, "10.0.0.1", None, throttle)
    assert 1 <= raised.value.extra["retry_after"] <= 60
    # Another client address has its own count.
    tokens = await service.login("count@example.com", PASSWORD, "10.0.0.2", None, throttle)
    assert tokens.refresh_token
    # Unknown emails are counted too, without telling them apart.
    for _ in range(LOGIN_FAILURE_LIMIT):
        with pytest.raises(InvalidCredentials):
            await service.login("nobody@example.com", PASSWORD, "10.0.0.1", None, throttle)
    with pytest.raises(RateLimited):
        await service.login("nobody@example.com", PASSWORD, "10.0.0.1", None, throttle)


async def test_rotation_keeps_the_family_and_reuse_revokes_it(
    session: AsyncSession, settings: Settings
) -> None:
    await create_user(session, "fam@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    first = await _login(service, "fam@example.com")
    second = (await service.refresh(first, "pytest/2")).refresh_token
    third = (await service.refresh(second, None)).refresh_token
    assert [(used, revoked) for _, used, revoked in await _family(session, third)] == [
        (True, False),
        (True, False),
        (False, False),
    ]
    with pytest.raises(Unauthorized, match="already used"):
        await service.refresh(first, None)
    assert all(revoked for _, _, revoked in await _family(session, third))
    with pytest.raises(Unauthorized):
        await service.refresh(third, None)


async def test_expired_and_unknown_refresh_tokens(session: AsyncSession, settings: Settings) -> None:
    await create_user(session, "old-rt@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    token = await _login(service, "old-rt@example.com")
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hash_secret(token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    session.expire_all()
    with pytest.raises(Unauthorized, match="expired"):
        await service.refresh(token, None)
    await session.rollback()
    with pytest.raises(Unauthorized, match="not valid"):
        await service.refresh("never-issued", None)


async def test_logout_revokes_the_family(session: AsyncSession, settings: Settings) -> None:
    await create_user(session, "out@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    first = await _login(service, "out@example.com")
    second = (await service.refresh(first, None)).refresh_token
    await service.logout(first)  # any token of the family ends the whole login
    assert all(revoked for _, _, revoked in await _family(session, second))
    with pytest.raises(Unauthorized):
        await service.refresh(second, None)
    await service.logout("never-issued")  # no error: nothing to tell


async def test_authenticate_access_tokens(session: AsyncSession, settings: Settings) -> None:
    user = await create_user(session, "auth@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    tokens = await service.login("auth@example.com", PASSWORD, "10.0.0.1", None, LoginThrottle())
    assert (await service.authenticate(tokens.access_token)).user_id == user.id
    stale = AccountService(session, settings.model_copy(update={"access_token_ttl_seconds": -1}))
    expired = (
        await stale.login("auth@example.com", PASSWORD, "10.0.0.1", None, LoginThrottle())
    ).access_token
    with pytest.raises(TokenExpired):
        await service.authenticate(expired)
    await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    await session.commit()
    session.expire_all()
    with pytest.raises(Unauthorized, match="disabled"):
        await service.authenticate(tokens.access_token)


async def test_api_keys_touch_last_used_at_sparingly(session: AsyncSession, settings: Settings) -> None:
    user = await create_user(session, "keys@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    key, secret = await service.create_api_key(person(user), "  deploy  ", None)
    assert key.name == "deploy" and key.key_hash == hash_secret(secret) and secret.startswith(key.prefix)

    key_id = key.id

    async def last_used() -> object:
        return await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))

    assert (await service.authenticate(secret)).user_id == user.id
    first_use = await last_used()
    assert first_use is not None
    await service.authenticate(secret)
    assert await last_used() == first_use  # within the interval: no write
    earlier = utcnow() - API_KEY_TOUCH_INTERVAL - timedelta(seconds=1)
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=earlier))
    await session.commit()
    session.expire_all()
    await service.authenticate(secret)
    assert await last_used() != earlier


async def test_api_keys_are_scoped_to_their_owner(session: AsyncSession, settings: Settings) -> None:
    owner = await create_user(session, "owner@example.com", PASSWORD, settings=settings)
    other = await create_user(session, "nosy@example.com", PASSWORD, settings=settings)
    service = AccountService(session, settings)
    key, secret = await service.create_api_key(person(owner), "mine", None)
    assert (await service.list_api_keys(other.id, Page())) == ([], 0)
    with pytest.raises(NotFound):
        await service.revoke_api_key(other.id, key.id)
    await service.revoke_api_key(owner.id, key.id)
    with pytest.raises(Unauthorized):
        await service.authenticate(secret)
    with pytest.raises(NotFound):
        await service.revoke_api_key(owner.id, key.id)
    assert (await service.list_api_keys(owner.id, Page()))[1] == 0


async def test_the_local_user_exists_once_and_cannot_log_in(
    session: AsyncSession, settings: Settings
) -> None:
    first = await get_or_create_local_user(session, "local@kadr.invalid")
    assert await get_or_create_local_user(session, "local@kadr.invalid") == first
    with pytest.raises(InvalidCredentials):
        await AccountService(session, settings).login(
            "local@kadr.invalid", "!", "10.0.0.1", None, LoginThrottle()
        )
