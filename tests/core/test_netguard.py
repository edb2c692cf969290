"""The private-address guard: no requests to loopback, private, link-local or metadata addresses."""

from __future__ import annotations

import pytest

from kadr.core.errors import ValidationFailed
from kadr.core.netguard import UnsafeUrl, check_public_url, check_url_syntax

pytestmark = pytest.mark.anyio

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.1.2/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://localhost:8000/hook",
    "http://LOCALHOST./hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_public_url(url, [])
    assert "KADR_ALLOWED_PRIVATE_HOSTS" in caught.value.detail


def test_unsafe_url_is_a_422_problem() -> None:
    error = UnsafeUrl("nope")
    assert isinstance(error, ValidationFailed)
    problem = error.to_problem()
    assert problem["status"] == 422 and problem["type"].endswith("/unsafe-url")
    assert problem["title"] == "URL not allowed"


async def test_a_public_literal_ip_is_accepted() -> None:
    await check_public_url("https://93.184.216.34/hook", [])
    await check_public_url("http://[2606:2800:220:1:248:1893:25c8:1946]:8443/hook", [])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://localhost:8000/hook", ["localhost"]),
        ("http://localhost:8000/hook", ["127.0.0.0/8", "::1"]),
        ("http://127.0.0.1/hook", ["127.0.0.1"]),
        ("http://127.0.0.1/hook", ["127.0.0.0/8"]),
        ("http://[::1]/hook", ["::1"]),
        ("http://10.1.2.3/hook", ["10.0.0.0/8"]),
        ("http://169.254.169.254/", ["169.254.169.254"]),
        ("http://100.64.1.2/hook", ["100.64.0.0/10"]),
        ("http://[::ffff:127.0.0.1]/hook", ["127.0.0.1"]),
        ("http://my-service.internal/hook", ["my-service.internal"]),  # an allowed name is not resolved
    ],
)
async def test_allow_listed_hosts_and_networks_pass(url: str, allowed: list[str]) -> None:
    await check_public_url(url, allowed)


async def test_allowing_one_network_does_not_allow_another() -> None:
    with pytest.raises(UnsafeUrl):
        await check_public_url("http://10.1.2.3/hook", ["192.168.0.0/16", "localhost"])


async def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="cannot resolve host"):
        await check_public_url("http://no-such-host.invalid/hook", [])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/file",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pass@example.com/hook",
        "http://user@example.com/hook",
        "http:///no-host",
        "not a url",
        "http://example.com:99999/",
    ],
)
async def test_bad_syntax_is_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url_syntax(url)
    with pytest.raises(UnsafeUrl):
        await check_public_url(url, ["example.com"])


def test_good_syntax_passes() -> None:
    check_url_syntax("https://example.com/hooks/kadr?x=1")
    check_url_syntax("http://93.184.216.34:8080/")
