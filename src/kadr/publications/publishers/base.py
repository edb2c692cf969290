"""The publisher contract: one strategy per channel kind, and the port it publishes through.

A publisher knows its platform: how often a channel may post (pacing), what the platform
accepts (size, metadata), how to tell whether a channel's credentials still work, and how to
take one publication there. It never opens a transaction: every fact it must not lose (an
upload session, a video id, progress) goes through the `PublishPort` the service hands it,
which stores and commits it at once, the way `RunRecorder` serves the pipeline.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kadr.channels.models import Channel
from kadr.config import Settings
from kadr.core.errors import RetryLater
from kadr.jobs.registry import JobContext
from kadr.publications.models import Publication
from kadr.publications.schemas import PublicationCreate

if TYPE_CHECKING:
    from kadr.channels.service import ChannelService


@dataclass(frozen=True)
class Source:
    """What gets published: an object in storage."""

    key: str
    content_type: str
    size: int
    name: str


class PublishPort(Protocol):
    """What a publisher may ask of the publication service while it publishes one publication.

    Every call runs and commits in a transaction of its own: nothing is held open while a
    provider answers, and whatever was stored survives a crash right after.
    """

    async def source(self) -> Source:
        """The video or clip to publish (NotFound when it was deleted)."""
        ...

    async def thumbnail(self) -> tuple[str, str] | None:
        """(storage key, content type) of the chosen thumbnail, if any."""
        ...

    async def download_url(self) -> str | None:
        """A link from which a receiver can fetch the source for a day (None where storage has none)."""
        ...

    def local_copy(self, key: str, name: str) -> AbstractAsyncContextManager[Path]:
        """The object at `key` as a scratch file, removed afterwards."""
        ...

    async def record(self, **values: Any) -> None:
        """Store what was learned (upload session URI, external id, uploaded bytes, detail) now."""
        ...

    async def take_slot(self, interval_seconds: float) -> None:
        """Pacing: claim the channel's next slot, one per `interval_seconds`; raises RetryLater."""
        ...

    async def spend_quota(
        self, project: str, day: str, costs: dict[str, int], limits: dict[str, int]
    ) -> bool:
        """Spend `costs` of `project`'s budget for `day`; False (nothing spent) when it would overrun."""
        ...

    async def exhaust_quota(self, project: str, day: str, bucket: str, limit: int) -> None:
        """The provider says the day's budget is gone: record the bucket as spent."""
        ...

    async def wait(self, delay_seconds: float, reason: str) -> RetryLater:
        """Park the publication (back to `queued`, saying why); returns the RetryLater to raise."""
        ...

    async def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid OAuth access token of the channel (refreshed and stored when it expires)."""
        ...

    async def needs_reauth(self, reason: str) -> None:
        """The platform refused the channel's credentials: flag it and tell its owner."""
        ...

    async def published(self, external_id: str, external_url: str | None) -> None:
        """Done: the platform has it under `external_id`."""
        ...


class Publisher(Protocol):
    """The strategy of one channel kind. Stateless: one instance serves every channel of its kind."""

    @property
    def kind(self) -> str:
        """The `ChannelKind` value this publisher serves."""
        ...

    def pacing_seconds(self, settings: Settings) -> float:
        """At most one upload per this many seconds per channel."""
        ...

    def check_fits(self, settings: Settings, body: PublicationCreate, size: int) -> None:
        """Refuse, with ValidationFailed naming the field, what the platform would refuse later."""
        ...

    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        """Exercise the channel's credentials: ValidationFailed when broken, ChannelUnusable when the
        owner must reconnect."""
        ...

    async def publish(
        self, context: JobContext, publication: Publication, channel: Channel, port: PublishPort
    ) -> dict[str, Any]:
        """Take the publication to the platform; safe to call again after any crash."""
        ...
