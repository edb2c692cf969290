"""Standard Webhooks signing, verification, and delivery to a real local HTTP receiver."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from kadr.providers.webhooks import (
    SECRET_PREFIX,
    WebhookPermanentError,
    WebhookTransientError,
    deliver,
    new_secret,
    sign,
    signed_headers,
    verify,
)
from tests.support.process import free_port
from tests.support.webhooks import Receiver, independent_signature

pytestmark = pytest.mark.anyio

# The test vector published with the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
LOCAL = ("127.0.0.1",)


def test_the_signature_matches_the_spec_vector() -> None:
    assert independent_signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_accepts_the_spec_vector_and_any_listed_signature() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)
    rotated = {**headers, "Webhook-Signature": f"v1,bm90IHRoaXMgb25l {SPEC_SIGNATURE}"}
    del rotated["webhook-signature"]
    verify(SPEC_SECRET, rotated, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_verify_rejects_tampering_wrong_secrets_and_stale_timestamps() -> None:
    secret = new_secret()
    body = b'{"event":"publication.published"}'
    headers = signed_headers(secret, "msg_1", body)
    verify(secret, headers, body)
    with pytest.raises(ValueError, match="no matching signature"):
        verify(secret, headers, body.replace(b"published", b"failed"))
    with pytest.raises(ValueError, match="no matching signature"):
        verify(new_secret(), headers, body)
    with pytest.raises(ValueError, match="no matching signature"):
        verify(secret, {**headers, "webhook-id": "msg_2"}, body)
    with pytest.raises(ValueError, match="too old"):
        verify(secret, headers, body, now=int(headers["webhook-timestamp"]) + 301)
    with pytest.raises(ValueError, match="future"):
        verify(secret, headers, body, now=int(headers["webhook-timestamp"]) - 301)
    with pytest.raises(ValueError, match="missing"):
        verify(secret, {"webhook-id": "msg_1"}, body)


def test_new_secrets_are_prefixed_random_24_bytes() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 24
    assert secret != new_secret()


def test_signed_headers() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, timestamp=SPEC_TIMESTAMP)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
        "content-type": "application/json",
        "user-agent": "kadr-webhooks/1",
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(new_secret()) as server:
        yield server


async def test_a_delivery_arrives_signed(receiver: Receiver) -> None:
    payload = {"type": "publication.published", "data": {"id": "pub_1", "title": "Ünïcode"}}
    status = await deliver(receiver.url, receiver.secret, "msg_abc", payload, allowed_private=LOCAL)
    assert status == 204
    [got] = receiver.received
    assert got["valid"] and got["fresh"] and got["json"] == payload
    assert got["headers"]["webhook-id"] == "msg_abc"
    assert got["headers"]["user-agent"] == "kadr-webhooks/1"
    assert got["headers"]["content-type"] == "application/json"


async def test_a_delivery_verifies_with_verify(receiver: Receiver) -> None:
    seen: list[httpx.Request] = []

    async def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(capture)) as http:
        assert (
            await deliver("http://93.184.216.34/hook", receiver.secret, "msg_1", {"a": 1}, http=http) == 200
        )
    [request] = seen
    assert request.content == b'{"a":1}'
    verify(receiver.secret, dict(request.headers), request.content)


async def test_loopback_is_refused_unless_allow_listed(receiver: Receiver) -> None:
    with pytest.raises(WebhookPermanentError, match="KADR_ALLOWED_PRIVATE_HOSTS"):
        await deliver(receiver.url, receiver.secret, "msg_1", {"a": 1})
    assert receiver.received == []
    assert (
        await deliver(receiver.url, receiver.secret, "msg_1", {"a": 1}, allowed_private=["127.0.0.0/8"])
        == 204
    )


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_errors_are_transient(receiver: Receiver, status: int) -> None:
    receiver.status = status
    with pytest.raises(WebhookTransientError) as caught:
        await deliver(receiver.url, receiver.secret, "msg_1", {"a": 1}, allowed_private=LOCAL)
    assert caught.value.status == status


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_client_errors_are_permanent(receiver: Receiver, status: int) -> None:
    receiver.status = status
    with pytest.raises(WebhookPermanentError) as caught:
        await deliver(receiver.url, receiver.secret, "msg_1", {"a": 1}, allowed_private=LOCAL)
    assert caught.value.status == status


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(WebhookPermanentError, match="redirect"):
        await deliver(receiver.url, receiver.secret, "msg_1", {"a": 1}, allowed_private=LOCAL)
    assert len(receiver.received) == 1


async def test_a_refused_connection_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(WebhookTransientError):
        await deliver(url, new_secret(), "msg_1", {"a": 1}, allowed_private=LOCAL)


async def test_a_timeout_is_transient() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as http:
        with pytest.raises(WebhookTransientError, match="timed out"):
            await deliver("http://93.184.216.34/hook", new_secret(), "msg_1", {"a": 1}, http=http)


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "http://user:pass@93.184.216.34/hook"])
async def test_bad_urls_are_permanent(url: str) -> None:
    with pytest.raises(WebhookPermanentError, match="not allowed"):
        await deliver(url, new_secret(), "msg_1", {"a": 1})
