"""Notification settings and the inbox (the event log, with read state) over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kadr.accounts.dependencies import NotificationsRead, NotificationsWrite
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.pagination import PageDep, Paginated
from kadr.core.schemas import IsoDateTime
from kadr.notifications.schemas import EventOut, MarkedRead, NotificationSettingsIn, NotificationSettingsOut
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


# The inbox answers at /v1/notifications too (the name a person looks for); one handler.
@router.get("/notifications", response_model=Paginated[EventOut])
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
    unread: Annotated[bool, Query(description="Only those not marked read")] = False,
) -> Paginated[EventOut]:
    """Your inbox: what happened to your account and resources, newest first, each with
    `read_at` (null: unread) and its notifications' delivery status. `?unread=true&limit=1`
    gives the unread count as `total`."""
    service = NotificationService(session, settings)
    return Paginated[EventOut].of(await service.events_page(user.id, page, event_type, since, unread), page)


@router.post("/notifications/read-all", response_model=MarkedRead)
@router.post("/events/read-all", response_model=MarkedRead)
async def mark_all_read(user: NotificationsWrite, session: SessionDep, settings: SettingsDep) -> MarkedRead:
    """Mark every unread event read; answers how many that was."""
    return MarkedRead(marked=await NotificationService(session, settings).mark_all_read(user.id))


@router.post("/notifications/{event_id}/read", response_model=EventOut)
@router.post("/events/{event_id}/read", response_model=EventOut)
async def mark_read(
    event_id: str, user: NotificationsWrite, session: SessionDep, settings: SettingsDep
) -> EventOut:
    """Mark one event read (again changes nothing); another user's id is 404."""
    return await NotificationService(session, settings).mark_read(user.id, event_id)
