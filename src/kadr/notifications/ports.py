"""What notifications need from the channels domain, as a port.

Telegram and webhook notifications go out through channels a user connected; but the channels
domain emits events into this one (`outbox.emit`), so this domain does not import it back.
The channels domain provides the directory (`provide_channel_directory`) when it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings


@dataclass(frozen=True)
class Destination:
    """A connected channel as a notification target: where to send, with its decrypted secrets."""

    channel_id: str
    owner_id: str
    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict, repr=False)


class ChannelDirectory(Protocol):
    async def owned(
        self, session: AsyncSession, owner_id: str, kind: str, channel_ids: list[str]
    ) -> set[str]:
        """Which of `channel_ids` are channels of `kind` owned by `owner_id`."""
        ...

    async def destination(
        self, session: AsyncSession, settings: Settings, channel_id: str
    ) -> Destination | None:
        """The channel as a target, or None when it is gone."""
        ...


_directory: ChannelDirectory | None = None


def provide_channel_directory(directory: ChannelDirectory) -> None:
    global _directory
    _directory = directory


def channel_directory() -> ChannelDirectory:
    if _directory is None:
        raise LookupError("no channel directory provided: kadr.channels.service was not imported")
    return _directory
