"""The OpenAPI document fuzzed against a running `kadr up`: whatever a client sends, no 5xx.

Schemathesis generates requests from the schema (valid and invalid: wrong types, huge numbers,
odd strings, missing fields) for every operation, sent over a real socket with a signed-in
user's token. A bounded number of examples per operation keeps it within a few minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.api import PASSWORD
from tests.support.process import kadr_up

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def running_kadr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    # YouTube configured (its operations are fuzzed too), Google's hosts a closed local port:
    # nothing leaves the machine.
    google = {
        "google_client_id": "fuzz-client",
        "google_client_secret": "fuzz-secret",
        "google_auth_url": "http://127.0.0.1:9/auth",
        "google_token_url": "http://127.0.0.1:9/token",
        "youtube_api_url": "http://127.0.0.1:9",
    }
    # A language model configured (generation answers 202, not 501) on a closed local port too.
    llm = {
        "llm_engine": "openai",
        "llm_url": "http://127.0.0.1:9/v1",
        "llm_model": "fuzz",
        "llm_max_retries": 0,
    }
    with kadr_up(folder / "var", folder / "kadr.log", **google, **llm) as (base_url, _process):
        with httpx.Client(base_url=base_url, timeout=30) as client:
            account = {"email": "fuzz@example.com", "password": PASSWORD}
            assert client.post("/v1/auth/register", json=account).status_code == 201
            token = client.post("/v1/auth/login", json=account).json()["access_token"]
        yield base_url, {"Authorization": f"Bearer {token}"}


def _openapi_document() -> dict[str, object]:
    """The document `kadr up` serves, built from the app itself (collection needs it before any
    fixture runs; the same app is what the running server answers with)."""
    from kadr.app import create_app
    from kadr.config import Settings

    return create_app(Settings(secret_key="fuzz-" + "0" * 40)).openapi()  # type: ignore[arg-type]


schema = schemathesis.openapi.from_dict(_openapi_document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples every run: a failure here is reproducible
)
def test_no_request_makes_the_server_fail(
    case: schemathesis.Case, running_kadr: tuple[str, dict[str, str]]
) -> None:
    base_url, headers = running_kadr
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
    if response.status_code >= 400:
        (content_type,) = response.headers.get("content-type", [""])
        assert content_type.startswith("application/problem+json"), (
            f"{case.method} {case.formatted_path}: {response.text[:200]}"
        )
