"""A sliding-window rate limiter (in memory; one process)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    """At most `limit` events per `window_seconds` per key; at most `max_keys` keys remembered
    (beyond that the key that first appeared longest ago is forgotten, so memory stays bounded)."""

    def __init__(self, limit: int, window_seconds: float, max_keys: int | None = None) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._events: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        """The key's events inside the window; a key with none left is forgotten, so looking up
        endless new keys (random emails at the login) cannot grow memory."""
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may act again; 0 when it may act now."""
        now = time.monotonic()
        with self._lock:
            events = self._trim(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, events[0] + self.window - now)

    def hit(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._trim(key, now)
            if self.max_keys is not None and key not in self._events:
                while len(self._events) >= self.max_keys:
                    del self._events[next(iter(self._events))]  # insertion order: oldest first
            self._events[key].append(now)

    def __len__(self) -> int:
        """Keys with events in the window."""
        with self._lock:
            return len(self._events)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
