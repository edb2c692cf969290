"""A port for what only a channel kind knows: whether a channel's credentials still work.

Each kind's strategy lives with its publisher (`kadr.publications.publishers`), and that
package imports this domain; so this domain does not import it back. The publishers hand
their lookup in with `register_health_check`, and `ChannelService.check_channel` asks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from kadr.channels.models import Channel

if TYPE_CHECKING:
    from kadr.channels.service import ChannelService


class HealthCheck(Protocol):
    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        """Raise ValidationFailed when the channel is broken, ChannelUnusable when it needs reconnecting."""
        ...


HealthCheckLookup = Callable[[str], HealthCheck]

_lookup: HealthCheckLookup | None = None


def register_health_check(lookup: HealthCheckLookup) -> None:
    """Install the function that answers the health check of a channel kind."""
    global _lookup
    _lookup = lookup


def health_check_for(kind: str) -> HealthCheck:
    if _lookup is None:
        raise LookupError("no channel strategies registered: kadr.publications.publishers was not imported")
    return _lookup(kind)
