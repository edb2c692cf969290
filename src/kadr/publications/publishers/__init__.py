"""Publishers by channel kind: the one map the services look a platform up in.

Adding a platform is one new module here (a class with `kind`, `pacing_seconds`,
`check_fits`, `check_health` and `publish`, see `base.Publisher`) and one entry in
`PUBLISHERS`; neither the publication service nor the channel service changes.
"""

from __future__ import annotations

from kadr.channels.kinds import register_health_check
from kadr.channels.models import ChannelKind
from kadr.publications.publishers.base import Publisher, PublishPort, Source
from kadr.publications.publishers.telegram import TelegramPublisher
from kadr.publications.publishers.webhook import WebhookPublisher
from kadr.publications.publishers.youtube import YouTubePublisher

PUBLISHERS: dict[str, Publisher] = {
    ChannelKind.YOUTUBE: YouTubePublisher(),
    ChannelKind.TELEGRAM: TelegramPublisher(),
    ChannelKind.WEBHOOK: WebhookPublisher(),
}


def publisher_for(kind: str) -> Publisher:
    """The publisher of channels of `kind` (LookupError for a kind nobody serves)."""
    try:
        return PUBLISHERS[kind]
    except KeyError:
        raise LookupError(f"no publisher for channel kind {kind!r}") from None


# The channel service checks credentials through the same strategies; it cannot import them (this
# package imports it), so they are handed to it here, once, as its health-check port.
register_health_check(lambda kind: publisher_for(kind))

__all__ = ["PUBLISHERS", "PublishPort", "Publisher", "Source", "publisher_for"]
