"""Notification settings and the event log over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kadr.accounts.dependencies import NotificationsRead, NotificationsWrite
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.pagination import PageDep, Paginated
from kadr.core.schemas import IsoDateTime
from kadr.notifications.schemas import EventOut, NotificationSettingsIn, NotificationSettingsOut
from kadr.notifications.service import NotificationService

router = APIRouter(tags=["notifications"])


@router.get("/notification-settings", response_model=NotificationSettingsOut)
async def get_settings(
    user: NotificationsRead, session: SessionDep, settings: SettingsDep
) -> NotificationSettingsOut:
    return await NotificationService(session, settings).get_settings(user.id)


@router.put("/notification-settings", response_model=NotificationSettingsOut)
async def put_settings(
    body: NotificationSettingsIn, user: NotificationsWrite, session: SessionDep, settings: SettingsDep
) -> NotificationSettingsOut:
    return await NotificationService(session, settings).update_settings(user.id, body)


@router.get("/events", response_model=Paginated[EventOut])
async def list_events(
    user: NotificationsRead,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    event_type: Annotated[str | None, Query(alias="type")] = None,
    since: Annotated[
        IsoDateTime | None, Query(description="Events at or after this (with a timezone)")
    ] = None,
) -> Paginated[EventOut]:
    """What happened to your resources, newest first, with each notification's delivery status."""
    result = await NotificationService(session, settings).events_page(user.id, page, event_type, since)
    return Paginated[EventOut].of(result, page)
