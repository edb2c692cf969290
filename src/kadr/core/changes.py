"""In-process change notices: "topic X changed", announced after the commit that changed it.

Live views (a run's event stream) wait on a topic instead of re-reading the database on a
tight loop. A notice only says "look again": the database stays the record, so a notice that
never comes (the change was made by another process, in distributed mode) only delays the
view until its polling fallback. Thread-safe: the embedded worker commits on its own event
loop and thread, the API's streams wait on theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_PENDING_KEY = "kadr_changed_topics"


class ChangeHub:
    """Waiters per topic, each an asyncio.Event on its own loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: defaultdict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(
            set
        )

    def announce(self, topic: str) -> None:
        """Wake everything waiting on `topic`, on whichever loop it waits."""
        with self._lock:
            waiters = list(self._waiters.get(topic, ()))
        for loop, changed in waiters:
            # A closed loop's waiter is gone with it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(changed.set)

    async def wait(self, topic: str, timeout: float) -> bool:
        """Wait until `topic` is announced (True) or `timeout` seconds pass (False)."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters[topic].add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter[1].wait()
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                topic_waiters = self._waiters.get(topic)
                if topic_waiters is not None:
                    topic_waiters.discard(waiter)
                    if not topic_waiters:
                        del self._waiters[topic]

    def waiting(self, topic: str) -> int:
        with self._lock:
            return len(self._waiters.get(topic, ()))


#: The process's hub.
HUB = ChangeHub()


def announce_after_commit(session: AsyncSession, topic: str) -> None:
    """Announce `topic` once the session's transaction commits (forgotten on rollback)."""
    pending: set[str] = session.sync_session.info.setdefault(_PENDING_KEY, set())
    pending.add(topic)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    for topic in session.info.pop(_PENDING_KEY, ()):
        HUB.announce(topic)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
