"""Periodic duties, in the style of Prefect's `LoopService`: one class per duty, registered by
the package that owns it; the scheduler only runs what is registered.

A duty is a name, an interval and `run_once`. Every duty is a set of conditional UPDATEs, so
any number of schedulers may run at once without doing anything twice. A domain registers its
duties with `@register_duty` in a module listed in `DUTY_MODULES` (loaded by name, as
`registry.TASK_MODULES` is, so this package imports none of the domains).
"""

from __future__ import annotations

import asyncio
import importlib
from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.logging import get_logger

log = get_logger(__name__)

DUTY_MODULES = ("kadr.jobs.reaper", "kadr.publications.duties")


class Duty(ABC):
    """One periodic duty."""

    #: Unique; names the duty in logs and in the scheduler.
    name: ClassVar[str]

    def interval_seconds(self, settings: Settings) -> float:
        """How often it runs; by default the scheduler's interval."""
        return settings.scheduler_interval_seconds

    @abstractmethod
    async def run_once(self, settings: Settings) -> int:
        """One pass; answers how many things it handled."""


_DUTIES: dict[str, Duty] = {}
D = TypeVar("D", bound=type[Duty])


def register_duty(duty: D) -> D:
    """Class decorator: run this duty in every scheduler."""
    _DUTIES[duty.name] = duty()
    return duty


def load_duty_modules() -> None:
    for module in DUTY_MODULES:
        importlib.import_module(module)


def registered_duties() -> list[Duty]:
    load_duty_modules()
    return list(_DUTIES.values())


class Scheduler:
    """Runs the registered duties on their intervals inside the current event loop."""

    def __init__(self, settings: Settings, duties: list[Duty] | None = None) -> None:
        self.settings = settings
        self.duties = registered_duties() if duties is None else duties
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    async def _guarded(self, duty: Duty) -> None:
        try:
            await duty.run_once(self.settings)
        except asyncio.CancelledError:
            # Shutdown cut the duty short; every duty is a set of atomic updates, so it is safe to stop.
            log.debug("scheduler duty interrupted by shutdown", duty=duty.name)
        except Exception as exc:  # a database blip must not stop the scheduler
            log.warning("scheduler duty failed", duty=duty.name, error=str(exc)[:300])

    async def run_once(self) -> None:
        for duty in self.duties:
            await self._guarded(duty)

    def start(self) -> None:
        for duty in self.duties:
            self._scheduler.add_job(
                self._guarded,
                "interval",
                seconds=duty.interval_seconds(self.settings),
                args=(duty,),
                id=duty.name,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow(),
            )
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
