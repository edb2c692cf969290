"""What the accounts domain tells others, as a port.

A new account is news (`user.registered`, written to the notifications outbox in the
registration's transaction); but every domain, notifications included, imports this one (who is
asking, the owner's address), so this domain does not import them back. The notifications
outbox provides `AccountEvents` when it is imported (`provide_account_events`).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.models import User
from kadr.config import Settings
from kadr.jobs.registry import load_task_modules


class AccountEvents(Protocol):
    async def registered(self, session: AsyncSession, settings: Settings, user: User) -> None:
        """Stage the news of a new account in the caller's transaction (the caller commits)."""
        ...


_events: AccountEvents | None = None


def provide_account_events(events: AccountEvents) -> None:
    global _events
    _events = events


def account_events() -> AccountEvents:
    """The provided `AccountEvents`. A process that has not loaded the domains yet (the CLI, a
    test of this domain alone) loads them by name the way the job registry does."""
    if _events is None:
        load_task_modules()
    if _events is None:
        raise LookupError("no account events provided: kadr.notifications.outbox was not imported")
    return _events
