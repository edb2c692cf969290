"""Webhook: a signed Standard Webhooks POST announcing the publication with a download link."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kadr.channels.models import Channel, ChannelKind
from kadr.config import Settings
from kadr.core.crypto import secret_box
from kadr.core.errors import PermanentJobError
from kadr.core.netguard import check_public_url
from kadr.jobs.registry import JobContext
from kadr.providers import webhooks
from kadr.publications.models import Publication
from kadr.publications.publishers.base import PublishPort
from kadr.publications.schemas import PublicationCreate

if TYPE_CHECKING:
    from kadr.channels.service import ChannelService


class WebhookPublisher:
    kind = ChannelKind.WEBHOOK

    def pacing_seconds(self, settings: Settings) -> float:
        return 0.0  # the receiver paces itself; it is only told where to fetch the file

    def check_fits(self, settings: Settings, body: PublicationCreate, size: int) -> None:
        return None  # the receiver downloads the file: no size or metadata limit to enforce

    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        await check_public_url(channel.config["url"], channels.settings.allowed_private_hosts)

    async def publish(
        self, context: JobContext, publication: Publication, channel: Channel, port: PublishPort
    ) -> dict[str, Any]:
        """POST the publication; the webhook-id is the publication id, so a retried delivery is
        recognisably the same message."""
        settings = context.settings
        source = await port.source()
        payload = {
            "type": "publication.ready",
            "timestamp": publication.publish_at.isoformat(),
            "data": {
                "publication_id": publication.id,
                "title": publication.title,
                "description": publication.description,
                "tags": publication.tags,
                "privacy": publication.privacy,
                "filename": source.name,
                "content_type": source.content_type,
                "size_bytes": source.size,
                "download_url": await port.download_url(),
            },
        }
        secret = secret_box(settings).decrypt(channel.secrets)["signing_secret"]
        try:
            status = await webhooks.deliver(
                channel.config["url"],
                secret,
                publication.id,
                payload,
                allowed_private=settings.allowed_private_hosts,
            )
        except webhooks.WebhookPermanentError as exc:
            raise PermanentJobError(f"the webhook refused the publication: {exc}") from exc
        await port.published(publication.id, None)
        return {"status": status}
