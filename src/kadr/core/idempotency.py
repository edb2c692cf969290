"""The `Idempotency-Key` header (IETF draft-ietf-httpapi-idempotency-key-header).

A client that retries a create after a lost answer sends the same key and gets the first
resource back instead of a second one. The key is bound to what was asked: the request's
fingerprint is stored with the resource, and the same key with a different request is the
client's mistake (422 `idempotency-key-reused`), never silently answered with the first
resource. An empty header is no key at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.core.errors import IdempotencyKeyReused

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Idempotency:
    """A request's key and the fingerprint of what it asked for."""

    key: str
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, request: Any) -> Idempotency | None:
        """None when there is no key; `request` is anything JSON can express (a model's dump)."""
        if not key:
            return None
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
        return cls(key, hashlib.sha256(canonical.encode()).hexdigest())

    def check_replay(self, stored_fingerprint: str | None) -> None:
        """Raise unless the stored resource was made by this same request (rows made before
        fingerprints were kept have none and are taken as the same)."""
        if stored_fingerprint is not None and stored_fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                f"the Idempotency-Key {self.key!r} was already used for a different request; "
                "use a new key for a new request",
                idempotency_key=self.key,
            )


class Keyed(Protocol):
    """A resource that stores the fingerprint of the request that made it."""

    idempotency_fingerprint: str | None


K = TypeVar("K", bound=Keyed)


async def create_once(
    session: AsyncSession,
    idempotency: Idempotency | None,
    find: Callable[[str], Awaitable[K | None]],
    create: Callable[[], Awaitable[K]],
) -> K:
    """`create()`, unless the key already made a resource (`find(key)`): then that one, if the
    same request made it (`IdempotencyKeyReused` otherwise), also when a concurrent request
    with the key commits first (the unique constraint on the key refuses our insert)."""

    async def replay() -> K | None:
        existing = await find(idempotency.key) if idempotency is not None else None
        if existing is not None and idempotency is not None:
            idempotency.check_replay(existing.idempotency_fingerprint)
        return existing

    existing = await replay()
    if existing is not None:
        return existing
    try:
        return await create()
    except IntegrityError:
        await session.rollback()
        existing = await replay()
        if existing is None:
            raise
        return existing


def _idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=MAX_KEY_LENGTH,
            description="Retry-safe creation: the same key and request answer the first resource",
        ),
    ] = None,
) -> str | None:
    key = (idempotency_key or "").strip()
    return key or None


#: The request's `Idempotency-Key`, stripped; None when absent or empty.
IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]
