"""Connect, check and use channels. The only place that commits channel changes.

Provider calls (Google, Telegram) happen here with no transaction open across them.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.channels.kinds import health_check_for
from kadr.channels.models import Channel, ChannelHealth, ChannelKind, OAuthState
from kadr.channels.repository import ChannelRepository
from kadr.channels.schemas import ConnectOut, TelegramChannelIn, WebhookChannelIn
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.crypto import secret_box
from kadr.core.errors import BadRequest, Conflict, NotConfigured, NotFound, ProviderError, ValidationFailed
from kadr.core.ids import new_id
from kadr.core.logging import get_logger
from kadr.core.netguard import check_public_url
from kadr.core.pagination import Page, PageResult
from kadr.notifications.models import EventType
from kadr.notifications.outbox import emit
from kadr.notifications.ports import Destination, provide_channel_directory
from kadr.providers import google, telegram, webhooks

log = get_logger(__name__)

#: A stored access token is refreshed this long before Google says it expires.
ACCESS_TOKEN_MARGIN = timedelta(minutes=2)


class ChannelUnusable(Conflict):
    """The channel cannot be used until its owner fixes it (reconnect, new bot token…)."""

    slug, title = "channel-unusable", "Channel needs attention"


def google_config(settings: Settings) -> google.GoogleConfig:
    if not settings.google_client_id:
        raise NotConfigured(
            "YouTube is not configured on this server: "
            "set KADR_GOOGLE_CLIENT_ID and KADR_GOOGLE_CLIENT_SECRET"
        )
    return google.GoogleConfig(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret.get_secret_value(),
        redirect_uri=settings.resolved_google_redirect_uri,
        auth_url=settings.google_auth_url,
        token_url=settings.google_token_url,
        api_url=settings.youtube_api_url,
    )


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class ChannelService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.channels = ChannelRepository(session)
        self.box = secret_box(settings)

    # --- reading ---------------------------------------------------------------
    async def get(self, owner_id: str, channel_id: str) -> Channel:
        channel = await self.channels.get(owner_id, channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        return channel

    async def list_page(self, owner_id: str, page: Page, kind: str | None = None) -> PageResult[Channel]:
        return await self.channels.list_page(owner_id, page.limit, page.offset, kind=kind)

    async def delete(self, owner_id: str, channel_id: str) -> None:
        """Forget the channel, its secrets and its publications (scheduled ones never go out)."""
        await self.channels.delete(await self.get(owner_id, channel_id))
        await self.session.commit()

    def secrets_of(self, channel: Channel) -> dict[str, Any]:
        return self.box.decrypt(channel.secrets) if channel.secrets else {}

    # --- YouTube: OAuth 2.0 authorization code + PKCE ----------------------------
    async def start_youtube_connect(self, owner_id: str) -> ConnectOut:
        config = google_config(self.settings)
        state = random_secrets.token_urlsafe(32)
        verifier, challenge = google.new_pkce_pair()
        expires_at = utcnow() + timedelta(seconds=self.settings.oauth_state_ttl_seconds)
        self.channels.add(
            OAuthState(
                state_hash=_state_hash(state),
                owner_id=owner_id,
                provider=ChannelKind.YOUTUBE,
                code_verifier=self.box.encrypt({"code_verifier": verifier}),
                expires_at=expires_at,
            )
        )
        await self.channels.delete_expired_oauth_states(utcnow())
        await self.session.commit()
        return ConnectOut(
            authorization_url=google.authorization_url(config, state, challenge), expires_at=expires_at
        )

    async def finish_youtube_connect(
        self, state: str | None, code: str | None, error: str | None
    ) -> tuple[Channel, bool]:
        """Google's redirect back: exchange the code, find the YouTube channel, store its tokens."""
        config = google_config(self.settings)
        if not state:
            raise BadRequest("the callback has no `state`; start again at /v1/channels/youtube/connect")
        pending = await self.channels.take_oauth_state(_state_hash(state))
        await self.session.commit()
        if pending is None:
            raise BadRequest("unknown or already used `state`; start again at /v1/channels/youtube/connect")
        if pending.expires_at < utcnow():
            raise BadRequest("this connect link expired; start again at /v1/channels/youtube/connect")
        if error:
            raise BadRequest(f"Google consent was not given ({error}); nothing was connected")
        if not code:
            raise BadRequest("the callback has no authorization `code`")
        verifier = self.box.decrypt(pending.code_verifier)["code_verifier"]
        async with google.GoogleClient(config) as client:
            try:
                tokens = await client.exchange_code(code, verifier)
                if not tokens.refresh_token:
                    raise ValidationFailed(
                        "Google returned no refresh token: remove kadr's access at "
                        "https://myaccount.google.com/permissions and connect again"
                    )
                info = await client.my_channel(tokens.access_token)
            except (google.InvalidGrant, google.PermanentGoogleError) as exc:
                raise ValidationFailed(f"Google refused the authorization: {exc}") from exc
            except google.GoogleError as exc:
                raise ProviderError(f"Google did not answer properly, try again: {exc}") from exc
        secrets = {
            "refresh_token": tokens.refresh_token,
            "access_token": tokens.access_token,
            "access_expires_at": tokens.expires_at.isoformat(),
            "scope": tokens.scope,
        }
        config_public = {
            "title": info.get("title"),
            "custom_url": info.get("custom_url"),
            "google_project": config.client_id,
        }
        now = utcnow()
        existing = await self.channels.find_external(pending.owner_id, ChannelKind.YOUTUBE, info["id"])
        if existing is not None:
            # Reconnecting the same channel repairs it in place: its publications keep their channel.
            await self.channels.update(
                existing.id,
                secrets=self.box.encrypt(secrets),
                config=config_public,
                status=ChannelHealth.OK,
                status_reason=None,
                checked_at=now,
                updated_at=now,
            )
            await self.session.commit()
            return await self._reload(existing.id), False
        channel = await self._add(
            pending.owner_id,
            ChannelKind.YOUTUBE,
            str(info.get("title") or info["id"]),
            info["id"],
            config_public,
            secrets,
        )
        return channel, True

    async def youtube_access_token(self, channel: Channel, *, force_refresh: bool = False) -> str:
        """A valid access token, refreshed (and stored) when it is about to expire.

        A refused refresh token turns the channel to `needs_reauth`, tells the owner, and raises
        ChannelUnusable with the reason.
        """
        if channel.status == ChannelHealth.NEEDS_REAUTH:
            raise ChannelUnusable(f"channel {channel.name} needs to be reconnected: {channel.status_reason}")
        stored = self.secrets_of(channel)
        expires = stored.get("access_expires_at")
        fresh_enough = expires and datetime.fromisoformat(expires) > utcnow() + ACCESS_TOKEN_MARGIN
        if stored.get("access_token") and fresh_enough and not force_refresh:
            return str(stored["access_token"])
        async with google.GoogleClient(google_config(self.settings)) as client:
            try:
                tokens = await client.refresh(stored["refresh_token"])
            except google.InvalidGrant as exc:
                reason = f"Google refused the stored authorization ({exc.message}); reconnect the channel"
                await self.mark_needs_reauth(channel, reason)
                await self.session.commit()
                raise ChannelUnusable(f"channel {channel.name} needs to be reconnected: {reason}") from exc
        stored.update(access_token=tokens.access_token, access_expires_at=tokens.expires_at.isoformat())
        if tokens.refresh_token:
            stored["refresh_token"] = tokens.refresh_token
        now = utcnow()
        await self.channels.update(
            channel.id, secrets=self.box.encrypt(stored), checked_at=now, updated_at=now
        )
        await self.session.commit()
        return tokens.access_token

    async def flag_needs_reauth(self, channel: Channel, reason: str) -> None:
        """A platform refused the channel's credentials: flag it, tell the owner, commit."""
        await self.mark_needs_reauth(channel, reason)
        await self.session.commit()

    async def mark_needs_reauth(self, channel: Channel, reason: str) -> None:
        """Flip to needs_reauth and notify the owner once (the caller commits)."""
        previous = channel.status  # the UPDATE below refreshes the loaded object
        if previous == ChannelHealth.NEEDS_REAUTH:
            return
        changed = await self.channels.update(
            channel.id,
            when_status=previous,
            status=ChannelHealth.NEEDS_REAUTH,
            status_reason=reason,
            updated_at=utcnow(),
        )
        if changed:
            log.warning("channel needs reauth", channel_id=channel.id, reason=reason)
            await emit(
                self.session,
                self.settings,
                channel.owner_id,
                EventType.CHANNEL_NEEDS_REAUTH,
                channel.id,
                {
                    "channel_id": channel.id,
                    "channel_name": channel.name,
                    "kind": channel.kind,
                    "reason": reason,
                },
            )

    # --- Telegram ----------------------------------------------------------------
    async def create_telegram(self, owner_id: str, body: TelegramChannelIn) -> Channel:
        token = body.bot_token.get_secret_value().strip()
        if not telegram.is_bot_token(token):
            raise ValidationFailed(
                "bot_token is not a Telegram bot token (<bot id>:<secret>, as @BotFather gives it)",
                field="bot_token",
            )
        chat = await self.telegram_chat(token, body.chat_id)
        return await self._add(
            owner_id,
            ChannelKind.TELEGRAM,
            body.name or str(chat.get("title") or chat.get("username") or body.chat_id),
            str(chat["id"]),
            {
                "chat_id": str(chat["id"]),
                "chat_type": chat.get("type"),
                "title": chat.get("title"),
                "username": chat.get("username"),
            },
            {"bot_token": token},
        )

    async def telegram_chat(self, token: str, chat_id: str) -> dict[str, Any]:
        """The chat as the bot sees it; ValidationFailed when Telegram refuses the token or chat."""
        try:
            # The client refuses a malformed token before any request: inside the try, so it is a 422 too.
            async with telegram.TelegramClient(token, api_url=self.settings.telegram_api_url) as bot:
                return await bot.get_chat(chat_id)
        except telegram.TelegramPermanentError as exc:
            raise ValidationFailed(
                f"Telegram refused the bot token or chat: {exc.description}; check the token and that "
                "the bot was added to the chat"
            ) from exc
        except telegram.TelegramError as exc:
            raise ProviderError(f"Telegram did not answer properly, try again: {exc.description}") from exc

    # --- webhooks ----------------------------------------------------------------
    async def create_webhook(self, owner_id: str, body: WebhookChannelIn) -> tuple[Channel, str]:
        await check_public_url(body.url, self.settings.allowed_private_hosts)
        signing_secret = body.signing_secret or webhooks.new_secret()
        try:
            webhooks.sign(signing_secret, "msg_check", 0, b"")
        except Exception as exc:
            raise ValidationFailed(
                "signing_secret must be whsec_ followed by base64", field="signing_secret"
            ) from exc
        channel = await self._add(
            owner_id,
            ChannelKind.WEBHOOK,
            body.name,
            None,
            {"url": body.url},
            {"signing_secret": signing_secret},
        )
        return channel, signing_secret

    # --- health ------------------------------------------------------------------
    async def check(self, owner_id: str, channel_id: str) -> Channel:
        """Check the channel now (token refresh, getChat, URL policy) and answer its health."""
        channel = await self.get(owner_id, channel_id)
        await self.check_channel(channel)
        return await self._reload(channel.id)

    async def check_channel(self, channel: Channel) -> str:
        """Exercise the channel's credentials; record and return its health."""
        now = utcnow()
        try:
            await health_check_for(channel.kind).check_health(self, channel)
        except ChannelUnusable:
            return ChannelHealth.NEEDS_REAUTH
        except ValidationFailed as exc:
            await self.channels.update(
                channel.id,
                status=ChannelHealth.ERROR,
                status_reason=exc.detail,
                checked_at=now,
                updated_at=now,
            )
            await self.session.commit()
            return ChannelHealth.ERROR
        await self.channels.update(
            channel.id, status=ChannelHealth.OK, status_reason=None, checked_at=now, updated_at=now
        )
        await self.session.commit()
        return ChannelHealth.OK

    async def _add(
        self,
        owner_id: str,
        kind: ChannelKind,
        name: str,
        external_id: str | None,
        config: dict[str, Any],
        secrets: dict[str, Any],
    ) -> Channel:
        """Store a new, just-verified channel (its secrets encrypted) and commit."""
        now = utcnow()
        channel = Channel(
            id=new_id("chn"),
            owner_id=owner_id,
            kind=kind,
            name=name,
            external_id=external_id,
            config=config,
            secrets=self.box.encrypt(secrets),
            status=ChannelHealth.OK,
            checked_at=now,
            created_at=now,
            updated_at=now,
        )
        self.channels.add(channel)
        await self.session.commit()
        return channel

    async def _reload(self, channel_id: str) -> Channel:
        channel = await self.channels.get_unscoped(channel_id)
        if channel is None:
            raise NotFound(f"no channel {channel_id}")
        return channel


class _ChannelDirectory:
    """Channels as notification targets (the notifications domain's port, filled in here)."""

    async def owned(
        self, session: AsyncSession, owner_id: str, kind: str, channel_ids: list[str]
    ) -> set[str]:
        return {c.id for c in await ChannelRepository(session).owned_of_kind(owner_id, kind, channel_ids)}

    async def destination(
        self, session: AsyncSession, settings: Settings, channel_id: str
    ) -> Destination | None:
        channel = await ChannelRepository(session).get_unscoped(channel_id)
        if channel is None:
            return None
        return Destination(
            channel_id=channel.id,
            owner_id=channel.owner_id,
            kind=channel.kind,
            config=dict(channel.config),
            secrets=secret_box(settings).decrypt(channel.secrets) if channel.secrets else {},
        )


provide_channel_directory(_ChannelDirectory())
