"""Identifiers sort by creation time and never collide."""

from __future__ import annotations

import time

from kadr.core.ids import new_id


def test_ids_are_prefixed_unique_and_time_ordered() -> None:
    first = new_id("run")
    time.sleep(0.002)
    ids = [new_id("run") for _ in range(10_000)]
    assert first.startswith("run_") and len(first) == 30
    assert len(set(ids)) == len(ids)
    assert first < min(ids)
