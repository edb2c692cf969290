"""Publications over HTTP: schedule, list, read, reschedule, cancel, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from kadr.accounts.dependencies import PublicationsRead, Publish
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.idempotency import IdempotencyKey
from kadr.core.pagination import PageDep, Paginated
from kadr.core.schemas import IsoDateTime
from kadr.publications.schemas import PublicationCreate, PublicationOut, PublicationUpdate
from kadr.publications.service import PublicationService

router = APIRouter(tags=["publications"])


@router.post("/publications", response_model=PublicationOut, status_code=status.HTTP_201_CREATED)
async def create_publication(
    body: PublicationCreate,
    response: Response,
    user: Publish,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> PublicationOut:
    """Publish a video or a run's clip to a channel at `publish_at` (default: now)."""
    publication = await PublicationService(session, settings).create(user.id, body, idempotency_key)
    response.headers["Location"] = f"/v1/publications/{publication.id}"
    return PublicationOut.model_validate(publication)


@router.get("/publications", response_model=Paginated[PublicationOut])
async def list_publications(
    user: PublicationsRead,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    publication_status: Annotated[str | None, Query(alias="status")] = None,
    channel_id: str | None = None,
    publish_after: Annotated[
        IsoDateTime | None, Query(description="publish_at >= this (with a timezone)")
    ] = None,
    publish_before: Annotated[
        IsoDateTime | None, Query(description="publish_at < this (with a timezone)")
    ] = None,
) -> Paginated[PublicationOut]:
    result = await PublicationService(session, settings).list_page(
        user.id,
        page,
        status=publication_status,
        channel_id=channel_id,
        publish_after=publish_after,
        publish_before=publish_before,
    )
    return Paginated[PublicationOut].of(result, page)


@router.get("/publications/{publication_id}", response_model=PublicationOut)
async def get_publication(
    publication_id: str, user: PublicationsRead, session: SessionDep, settings: SettingsDep
) -> PublicationOut:
    return PublicationOut.model_validate(
        await PublicationService(session, settings).get(user.id, publication_id)
    )


@router.patch("/publications/{publication_id}", response_model=PublicationOut)
async def update_publication(
    publication_id: str,
    body: PublicationUpdate,
    user: Publish,
    session: SessionDep,
    settings: SettingsDep,
) -> PublicationOut:
    """Reschedule (`publish_at`) or edit the fields while the publication is still scheduled."""
    publication = await PublicationService(session, settings).update(user.id, publication_id, body)
    return PublicationOut.model_validate(publication)


@router.post("/publications/{publication_id}/cancel", response_model=PublicationOut)
async def cancel_publication(
    publication_id: str, user: Publish, session: SessionDep, settings: SettingsDep
) -> PublicationOut:
    return PublicationOut.model_validate(
        await PublicationService(session, settings).cancel(user.id, publication_id)
    )


@router.post("/publications/{publication_id}/retry", response_model=PublicationOut)
async def retry_publication(
    publication_id: str, user: Publish, session: SessionDep, settings: SettingsDep
) -> PublicationOut:
    """Queue a failed publication again; an upload that reached YouTube is not repeated."""
    return PublicationOut.model_validate(
        await PublicationService(session, settings).retry(user.id, publication_id)
    )
