"""The publications domain's periodic duties: dispatch due publications, and have their channels
checked ahead of the slot."""

from __future__ import annotations

from kadr.config import Settings
from kadr.core.db import get_database
from kadr.jobs.duties import Duty, register_duty
from kadr.publications.service import PublicationService


async def dispatch_due_publications(settings: Settings) -> int:
    """Claim publications whose time has come and put them on the publish queue (once each)."""
    async with get_database(settings).session() as session:
        return await PublicationService(session, settings).dispatch_due()


async def check_channels_before_slots(settings: Settings) -> int:
    """Have each channel with a slot inside the preflight window check its credentials."""
    async with get_database(settings).session() as session:
        return await PublicationService(session, settings).preflight()


@register_duty
class DispatchDuePublications(Duty):
    name = "dispatch_due_publications"

    async def run_once(self, settings: Settings) -> int:
        return await dispatch_due_publications(settings)


@register_duty
class CheckChannelsBeforeSlots(Duty):
    name = "check_channels_before_slots"

    async def run_once(self, settings: Settings) -> int:
        return await check_channels_before_slots(settings)
