"""YouTube Data API quota: what each call costs, and when the provider's day turns.

Google counts per Cloud project and resets at midnight Pacific time. Since 2026
`videos.insert` has a bucket of its own (uploads per day); other calls spend units.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kadr.config import Settings

PACIFIC = ZoneInfo("America/Los_Angeles")

UPLOADS = "uploads"
UNITS = "units"

#: method -> (bucket, cost)
YOUTUBE_COSTS: dict[str, tuple[str, int]] = {
    "videos.insert": (UPLOADS, 1),
    "thumbnails.set": (UNITS, 50),
    "videos.update": (UNITS, 50),
    "channels.list": (UNITS, 1),
}


def provider_day(now: datetime) -> str:
    """The Pacific date whose budget a call at `now` spends."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: datetime) -> datetime:
    """The next Pacific midnight after `now`, in `now`'s timezone (DST-safe)."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return midnight.astimezone(now.tzinfo)


def daily_limits(settings: Settings) -> dict[str, int]:
    return {UPLOADS: settings.youtube_daily_uploads, UNITS: settings.youtube_daily_quota_units}


def costs_of(methods: list[str]) -> dict[str, int]:
    """Units per bucket that these calls spend together."""
    totals: dict[str, int] = {}
    for method in methods:
        bucket, cost = YOUTUBE_COSTS[method]
        totals[bucket] = totals.get(bucket, 0) + cost
    return totals
