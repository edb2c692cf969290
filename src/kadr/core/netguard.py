"""Guard against requests to private addresses (SSRF): webhook URLs and any other URL a user gives us.

A URL is refused when its host resolves to ANY address that is not public (loopback, private ranges,
link-local incl. cloud metadata 169.254.169.254, CGNAT, multicast, reserved, unspecified, and IPv6
forms embedding those), unless the operator allow-listed the host name or the address
(`KADR_ALLOWED_PRIVATE_HOSTS`: host names, IPs or CIDRs).

The check resolves the name once; the HTTP client resolves it again when it connects, so a hostile DNS
server could still answer differently the second time (DNS rebinding). Redirects must never be followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from kadr.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SETTING = "KADR_ALLOWED_PRIVATE_HOSTS"
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeUrl(ValidationFailed):
    slug, title = "unsafe-url", "URL not allowed"


def check_url_syntax(url: str) -> None:
    """Only http(s) URLs with a host and without credentials in them."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"only http:// and https:// URLs are allowed, not {parts.scheme or 'no'} scheme")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host name")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("the URL must not contain credentials (user:password@); use a signing secret instead")
    if port == 0:
        raise UnsafeUrl("the URL's port must not be 0")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is None and address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded


def _unsafe_reason(address: IPAddress) -> str | None:
    """Why this address must not be contacted, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = _unsafe_reason(embedded)
        return f"{reason} ({embedded} inside an IPv6 address)" if reason else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT (100.64.0.0/10) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "not a public address"
    return None


def _parse_allowed(allowed: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in allowed:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return names, networks


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _is_literal(host: str) -> bool:
    try:
        _address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int | None, scheme: str) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port or (443 if scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"cannot resolve host {host!r} ({exc}); check the URL's host name") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        try:
            addresses.append(_address(str(sockaddr[0])))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeUrl(f"cannot resolve host {host!r} to an IP address; check the URL's host name")
    return addresses


async def check_public_url(url: str, allowed: Sequence[str] = ()) -> None:
    """Refuse `url` unless every address its host resolves to is public or allow-listed."""
    check_url_syntax(url)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    names, networks = _parse_allowed(allowed)
    if host in names:
        return

    addresses = [_address(host)] if _is_literal(host) else await _resolve(host, parts.port, parts.scheme)

    for address in dict.fromkeys(addresses):
        embedded = _embedded_ipv4(address)
        if any(address in network or (embedded is not None and embedded in network) for network in networks):
            continue
        reason = _unsafe_reason(address)
        if reason is not None:
            shown = host if _is_literal(host) else f"{host} ({address})"
            raise UnsafeUrl(
                f"{shown} is {reason}; kadr only calls public addresses. To allow it, add the host "
                f"name or address (or a CIDR such as 10.0.0.0/8) to the setting {_SETTING}."
            )
