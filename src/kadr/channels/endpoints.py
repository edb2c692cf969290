"""Channels over HTTP: connect YouTube (OAuth), add Telegram chats and webhooks, check, delete."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import RedirectResponse

from kadr.accounts.dependencies import ChannelsRead, ChannelsWrite
from kadr.channels.models import Channel
from kadr.channels.schemas import (
    ChannelOut,
    ConnectOut,
    TelegramChannelIn,
    WebhookChannelIn,
    WebhookChannelOut,
)
from kadr.channels.service import ChannelService
from kadr.core.deps import SessionDep, SettingsDep, writes
from kadr.core.errors import KadrError
from kadr.core.pagination import PageDep, Paginated
from kadr.web.endpoints import wants_page

router = APIRouter(tags=["channels"])


def _out(channel: Channel) -> ChannelOut:
    return ChannelOut.model_validate(channel)


@router.get("/channels", response_model=Paginated[ChannelOut])
async def list_channels(
    user: ChannelsRead,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    kind: str | None = None,
) -> Paginated[ChannelOut]:
    return Paginated[ChannelOut].of(
        await ChannelService(session, settings).list_page(user.id, page, kind), page
    )


@router.get(
    "/channels/youtube/connect",
    response_model=ConnectOut,
    responses={302: {"description": "With ?redirect=true: straight to Google's consent screen"}},
)
async def connect_youtube(
    user: ChannelsWrite, session: SessionDep, settings: SettingsDep, redirect: bool = False
) -> ConnectOut | RedirectResponse:
    """Start connecting a YouTube channel: open `authorization_url` and approve."""
    link = await ChannelService(session, settings).start_youtube_connect(user.id)
    if redirect:
        return RedirectResponse(link.authorization_url, status_code=status.HTTP_302_FOUND)
    return link


@router.get(
    "/channels/youtube/callback",
    response_model=ChannelOut,
    status_code=status.HTTP_201_CREATED,
    responses={303: {"description": "A browser (Accept: text/html): on to the web app's /channels page"}},
)
@writes  # a GET that creates the channel: its transaction takes the write lock up front
async def youtube_callback(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> ChannelOut | RedirectResponse:
    """Google redirects the browser here; `state` identifies the user who started the connect.
    A browser is sent on to the web app's `/channels?connected=<id>`, or
    `/channels?connect_error=<reason>` when nothing was connected; API clients get JSON."""
    service = ChannelService(session, settings)
    if wants_page(request):
        try:
            channel, _ = await service.finish_youtube_connect(state, code, error)
        except KadrError as exc:
            return _to_channels_page(connect_error=exc.detail)
        return _to_channels_page(connected=channel.id)
    channel, created = await service.finish_youtube_connect(state, code, error)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/channels/{channel.id}"
    return _out(channel)


def _to_channels_page(**query: str) -> RedirectResponse:
    return RedirectResponse(f"/channels?{urlencode(query)}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/channels/telegram", response_model=ChannelOut, status_code=status.HTTP_201_CREATED)
async def add_telegram(
    body: TelegramChannelIn,
    response: Response,
    user: ChannelsWrite,
    session: SessionDep,
    settings: SettingsDep,
) -> ChannelOut:
    """Add a Telegram chat; the bot token and chat are verified with `getChat` first."""
    channel = await ChannelService(session, settings).create_telegram(user.id, body)
    response.headers["Location"] = f"/v1/channels/{channel.id}"
    return _out(channel)


@router.post("/channels/webhook", response_model=WebhookChannelOut, status_code=status.HTTP_201_CREATED)
async def add_webhook(
    body: WebhookChannelIn,
    response: Response,
    user: ChannelsWrite,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookChannelOut:
    """Add a webhook; the answer carries its signing secret, shown this once."""
    channel, secret = await ChannelService(session, settings).create_webhook(user.id, body)
    response.headers["Location"] = f"/v1/channels/{channel.id}"
    return WebhookChannelOut.model_validate({**_out(channel).model_dump(), "signing_secret": secret})


@router.get("/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(
    channel_id: str, user: ChannelsRead, session: SessionDep, settings: SettingsDep
) -> ChannelOut:
    return _out(await ChannelService(session, settings).get(user.id, channel_id))


@router.post("/channels/{channel_id}/check", response_model=ChannelOut)
async def check_channel(
    channel_id: str, user: ChannelsWrite, session: SessionDep, settings: SettingsDep
) -> ChannelOut:
    """Exercise the channel's credentials now and answer its health."""
    return _out(await ChannelService(session, settings).check(user.id, channel_id))


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(
    channel_id: str, user: ChannelsWrite, session: SessionDep, settings: SettingsDep
) -> None:
    await ChannelService(session, settings).delete(user.id, channel_id)
