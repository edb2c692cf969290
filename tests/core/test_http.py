"""HTTP conventions applied centrally: Allow on 405/OPTIONS, problem responses in the OpenAPI
document, ISO 8601 date-times only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from kadr.core.schemas import IsoDateTime
from tests.support.api import assert_problem, register

pytestmark = pytest.mark.anyio


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # GET and POST /v1/videos are two routes; Starlette named only the first one's method.
    response = await client.delete("/v1/videos")
    body = assert_problem(response, 405, "method-not-allowed")
    assert response.headers["Allow"] == "GET, POST"
    assert "GET, POST" in body["detail"]
    response = await client.put("/v1/videos/vid_x")
    assert_problem(response, 405)
    assert response.headers["Allow"] == "DELETE, GET"


async def test_options_answers_with_every_method(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/publications")
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, POST, OPTIONS"
    assert_problem(await client.options("/v1/no-such-thing"), 404)


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _problem_ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/problem+json"]["schema"]["$ref"])


async def test_openapi_describes_problem_responses(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas, "FastAPI's 422 shape is not what kadr sends"
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert _problem_ref(responses["default"]) == "#/components/schemas/Problem", where
            if "422" in responses:
                assert _problem_ref(responses["422"]) == "#/components/schemas/ValidationProblem", where
            if "{" in path:
                assert "404" in responses, where
    video = openapi["paths"]["/v1/videos/{video_id}"]["get"]
    assert _problem_ref(video["responses"]["401"]) == "#/components/schemas/Problem"
    assert video["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "401" not in openapi["paths"]["/v1/auth/register"]["post"]["responses"]
    assert "bearer" in openapi["components"]["securitySchemes"]
    upload = openapi["paths"]["/v1/videos"]["post"]["responses"]
    assert _problem_ref(upload["413"]) == "#/components/schemas/Problem"


async def test_422_is_sent_as_the_documented_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/auth/register", json={}), 422, "validation-failed")
    assert body["errors"] and {"loc", "msg", "type"} <= set(body["errors"][0])


def test_iso_date_time_accepts_iso_strings_with_a_timezone() -> None:
    adapter = TypeAdapter(IsoDateTime)
    expected = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert adapter.validate_python("2026-01-31T09:00:00Z") == expected
    assert adapter.validate_python("2026-01-31T10:00:00+01:00") == expected
    assert adapter.validate_json('"2026-01-31T09:00:00Z"') == expected


@pytest.mark.parametrize(
    "value", [1769850000, 1769850000.5, "1769850000", "-5", "2026-01-31T09:00:00", "2026-01-31", "soon"]
)
def test_iso_date_time_refuses_numbers_and_naive_times(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(IsoDateTime).validate_python(value)


async def test_date_time_query_parameters_refuse_unix_times(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    headers = await register(client, "dates@example.com")
    for url in ("/v1/events?since=1700000000", "/v1/publications?publish_after=1700000000"):
        assert_problem(await client.get(url, headers=headers), 422, "validation-failed")
    ok = await client.get("/v1/events", params={"since": "2026-01-31T09:00:00+00:00"}, headers=headers)
    assert ok.status_code == 200, ok.text
    since = next(p for p in openapi["paths"]["/v1/events"]["get"]["parameters"] if p["name"] == "since")
    assert {"type": "string", "format": "date-time"} in since["schema"]["anyOf"]


async def test_date_time_body_fields_refuse_unix_times(client: httpx.AsyncClient) -> None:
    headers = await register(client, "bodydates@example.com")
    response = await client.post(
        "/v1/publications",
        headers=headers,
        json={"channel_id": "chn_x", "video_id": "vid_x", "title": "t", "publish_at": 1769850000},
    )
    body = assert_problem(response, 422, "validation-failed")
    assert any("publish_at" in error["loc"] for error in body["errors"]), body
