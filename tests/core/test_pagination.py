"""One pagination shape: every list endpoint bounds limit and offset (problem+json, never a 500)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import assert_problem, register

pytestmark = pytest.mark.anyio

LIST_ROUTES = [
    "/v1/videos",
    "/v1/runs",
    "/v1/channels",
    "/v1/publications",
    "/v1/events",
    "/v1/notifications",
    "/v1/api-keys",
    "/v1/scenarios",
    "/v1/scenarios/{scenario_id}/versions",
    "/v1/scenarios/{scenario_id}/shares",
    "/v1/glossaries",
    "/v1/voices/maps",
]


async def test_every_paginated_route_is_covered(client: httpx.AsyncClient) -> None:
    """A new list endpoint must join LIST_ROUTES (and so these tests), and answer Paginated[T]."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    paginated = {
        path
        for path, operations in paths.items()
        if any(p["name"] == "offset" for p in operations.get("get", {}).get("parameters", []))
    }
    assert paginated == set(LIST_ROUTES)
    for path in LIST_ROUTES:
        body = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert body["$ref"].startswith("#/components/schemas/Paginated_"), f"{path} answers Paginated[T]"


@pytest.mark.parametrize("path", LIST_ROUTES)
@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=10000001", "offset=-1", "limit=201"])
async def test_out_of_range_page_is_422(client: httpx.AsyncClient, path: str, query: str) -> None:
    headers = await register(client, "pager@example.com")
    assert_problem(await client.get(f"{path}?{query}", headers=headers), 422, "validation-failed")


async def test_pages_keep_total_and_order(client: httpx.AsyncClient) -> None:
    headers = await register(client, "keys@example.com")
    for n in range(5):
        assert (await client.post("/v1/api-keys", headers=headers, json={"name": f"k{n}"})).status_code == 201
    first = (await client.get("/v1/api-keys?limit=2", headers=headers)).json()
    rest = (await client.get("/v1/api-keys?limit=10&offset=2", headers=headers)).json()
    past = (await client.get("/v1/api-keys?offset=10000000", headers=headers)).json()
    assert first["total"] == rest["total"] == past["total"] == 5
    names = [k["name"] for k in first["items"] + rest["items"]]
    assert names == ["k4", "k3", "k2", "k1", "k0"], "newest first, no row twice or skipped"
    assert past["items"] == []
