"""Who a request acts for (`Principal`), and the short-lived cache that keeps checking it cheap.

A status poll must not pay a database round trip to learn again, every 200 ms, that its token is
still good. A checked credential is trusted for `KADR_AUTH_CACHE_SECONDS` (default 5): that is
how long a logout, a reused refresh token or a revoked key takes to reach the other API
processes; in the process that revoked it, it takes effect at once (`forget`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import make_transient_to_detached

from kadr.accounts.models import User
from kadr.accounts.scopes import ALL_SCOPES, Scope, grants
from kadr.core.errors import InsufficientScope


@dataclass(frozen=True)
class Principal:
    """An authenticated credential: its user (as plain column values) and what it may do."""

    user_fields: dict[str, Any]
    scopes: frozenset[str]
    #: The refresh-token family an access token belongs to (None for API keys).
    family_id: str | None = None
    #: The API key used (None for access tokens), and when it was last recorded as used.
    api_key_id: str | None = None
    api_key_last_used_at: datetime | None = None
    #: Epoch seconds when the credential itself expires (access tokens), if it does.
    expires_at: float | None = None

    @property
    def user_id(self) -> str:
        return str(self.user_fields["id"])

    def user(self) -> User:
        """A fresh detached `User` for this request: usable like a loaded one, shared with no
        other request, and never inserted again if some code adds it to a session."""
        user = User(**self.user_fields)
        make_transient_to_detached(user)
        return user

    def require(self, scope: Scope) -> None:
        if not grants(self.scopes, scope):
            raise InsufficientScope.for_scope(scope.value)

    def touched(self, when: datetime) -> Principal:
        return replace(self, api_key_last_used_at=when)


PERSON_SCOPES: frozenset[str] = frozenset(s.value for s in ALL_SCOPES)


@dataclass
class _Entry:
    principal: Principal
    deadline: float


@dataclass
class PrincipalCache:
    """Credential digest -> Principal, for `ttl_seconds`, at most `max_entries` (oldest dropped).

    Used from the event loop only, so a plain dict is enough.
    """

    ttl_seconds: float
    max_entries: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry.deadline:
            del self._entries[key]
            return None
        return entry.principal

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0 or self.max_entries <= 0:
            return
        ttl = self.ttl_seconds
        if principal.expires_at is not None:
            # Never outlive the token: an expired token must reach the decoder and get 401.
            ttl = min(ttl, principal.expires_at - time.time())
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # dicts keep insertion order: oldest
        self._entries[key] = _Entry(principal, self.clock() + ttl)

    def forget(
        self, *, family_id: str | None = None, api_key_id: str | None = None, user_id: str | None = None
    ) -> None:
        """Drop what a revocation made invalid (a scan: revocations are rare, entries bounded)."""
        for key, entry in list(self._entries.items()):
            p = entry.principal
            if (
                (family_id is not None and p.family_id == family_id)
                or (api_key_id is not None and p.api_key_id == api_key_id)
                or (user_id is not None and p.user_id == user_id)
            ):
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
