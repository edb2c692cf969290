"""Telegram: the clip as a video message in a chat, sent once, under the bot upload limit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kadr.channels.models import Channel, ChannelKind
from kadr.config import Settings
from kadr.core.crypto import secret_box
from kadr.core.errors import PermanentJobError, ValidationFailed
from kadr.jobs.registry import JobContext
from kadr.providers import telegram
from kadr.publications.models import TELEGRAM_CAPTION, Publication
from kadr.publications.publishers.base import PublishPort
from kadr.publications.schemas import PublicationCreate

if TYPE_CHECKING:
    from kadr.channels.service import ChannelService


def caption(publication: Publication) -> str:
    """The caption the clip's metadata wrote for Telegram when the texts are all the metadata's;
    otherwise title, description and the tags as hashtags."""
    written = (publication.details or {}).get(TELEGRAM_CAPTION)
    if written:
        return str(written)
    parts = [publication.title]
    if publication.description:
        parts.append(publication.description)
    if publication.tags:
        parts.append(
            " ".join("#" + "".join(ch for ch in tag if ch.isalnum() or ch == "_") for tag in publication.tags)
        )
    return "\n\n".join(parts)


class TelegramPublisher:
    kind = ChannelKind.TELEGRAM

    def pacing_seconds(self, settings: Settings) -> float:
        return settings.telegram_send_interval_seconds

    def check_fits(self, settings: Settings, body: PublicationCreate, size: int) -> None:
        limit = settings.telegram_max_upload_bytes
        if size > limit:
            raise ValidationFailed(
                f"the file is {size / 1024**2:.1f} MiB; Telegram bots can send at most "
                f"{limit / 1024**2:.0f} MiB: publish a shorter clip",
                field="video_id" if body.video_id else "artifact_id",
            )

    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        await channels.telegram_chat(channels.secrets_of(channel)["bot_token"], channel.config["chat_id"])

    async def publish(
        self, context: JobContext, publication: Publication, channel: Channel, port: PublishPort
    ) -> dict[str, Any]:
        settings = context.settings
        # Set when an earlier attempt posted and recorded the message: it is not sent again.
        message_id, url = publication.external_id, publication.external_url
        if message_id is None:
            source = await port.source()
            await port.take_slot(self.pacing_seconds(settings))
            bot_token = secret_box(settings).decrypt(channel.secrets)["bot_token"]
            try:
                async with (
                    telegram.TelegramClient(
                        bot_token,
                        api_url=settings.telegram_api_url,
                        max_upload_bytes=settings.telegram_max_upload_bytes,
                    ) as bot,
                    port.local_copy(source.key, source.name) as path,
                ):
                    message = await bot.send_video(
                        channel.config["chat_id"], path, caption=caption(publication)
                    )
            except telegram.TelegramRetryAfter as exc:
                raise await port.wait(
                    exc.retry_after, f"Telegram asked to wait {exc.retry_after:g} s"
                ) from exc
            except telegram.TelegramPermanentError as exc:
                if exc.status in (401, 403) or isinstance(exc, telegram.MalformedBotToken):
                    await port.needs_reauth(f"Telegram refused the bot: {exc.description}")
                raise PermanentJobError(f"Telegram refused the video: {exc.description}") from exc
            message_id = str(message["message_id"])
            url = telegram.message_url(message.get("chat", {}), int(message["message_id"]))
            await port.record(external_id=message_id, external_url=url, uploaded_bytes=source.size)
        await port.published(message_id, url)
        return {"message_id": message_id}
