"""The sliding-window limiter: limits per key, forgets the past, holds no memory for idle keys."""

from __future__ import annotations

import time

from kadr.core.ratelimit import RateLimiter


def test_limit_per_key_and_retry_after() -> None:
    limiter = RateLimiter(limit=3, window_seconds=0.5)
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.hit("a")
    assert 0 < limiter.retry_after("a") <= 0.5
    assert limiter.retry_after("b") == 0, "other keys are not affected"
    time.sleep(0.6)
    assert limiter.retry_after("a") == 0, "the window slides"


def test_looking_up_many_keys_keeps_no_memory() -> None:
    limiter = RateLimiter(limit=3, window_seconds=60)
    for n in range(1000):
        limiter.retry_after(f"random-{n}@example.com")
    assert len(limiter) == 0
    limiter.hit("real@example.com")
    assert len(limiter) == 1
    limiter.reset("real@example.com")
    assert len(limiter) == 0
