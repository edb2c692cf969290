"""The client's address: the peer, or what a trusted reverse proxy says the peer was.

uvicorn is started with `proxy_headers=False` (cli.uvicorn_options), so `scope["client"]` is
always the TCP peer, and this module is the one place that reads `X-Forwarded-For`. It believes
the header only when the peer is one of `KADR_TRUSTED_PROXIES` (empty by default): otherwise any
client could name itself a new address per request and escape per-address limits.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from kadr.core.deps import SettingsDep

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_CLIENT = "unknown"


@lru_cache(maxsize=16)
def trusted_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """`KADR_TRUSTED_PROXIES` parsed once per distinct setting (settings validate the entries)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _is_trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is the proxy 10.0.0.1 on a dual-stack socket
    return any(ip.version == network.version and ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str], networks: Sequence[IPNetwork]) -> str:
    """The address to attribute a request to.

    With an untrusted (or no) proxy in front, the peer. Behind trusted proxies, the rightmost
    `X-Forwarded-For` entry that is not itself a trusted proxy: entries to its left were written
    by the client and prove nothing.
    """
    if not peer:
        return UNKNOWN_CLIENT
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    # Every hop is a proxy of ours (or there is no header): the leftmost is the best we know.
    return hops[0] if hops else peer


def request_client_address(request: Request, trusted_proxies: Sequence[str]) -> str:
    """`client_address` for a Starlette request."""
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.getlist("x-forwarded-for"), trusted_networks(tuple(trusted_proxies))
    )


async def get_client_address(request: Request, settings: SettingsDep) -> str:
    return request_client_address(request, settings.trusted_proxies)


ClientAddress = Annotated[str, Depends(get_client_address)]
