"""The web app's server side: its pages answer the app's shell, its files are cached by version,
and nothing of the API changes (paths, problem+json for API clients)."""

from __future__ import annotations

import re

import httpx
import pytest

from kadr.web.endpoints import API_PREFIXES, PAGES, STATIC, asset_version

pytestmark = pytest.mark.anyio
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_every_page_answers_the_shell_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    for path in ("/", "/sign-in", "/videos", "/videos/vid_x", "/videos/vid_x/runs/new", "/runs/run_x"):
        page = await client.get(path, headers=BROWSER)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert f"/static/{asset_version()}/app.js" in page.text and "{{" not in page.text


async def test_assets_are_cached_for_good_under_their_version(client: httpx.AsyncClient) -> None:
    current = await client.get(f"/static/{asset_version()}/app.js")
    assert current.status_code == 200
    assert current.headers["content-type"].startswith("text/javascript")
    assert "immutable" in current.headers["cache-control"]
    assert current.text == (STATIC / "app.js").read_text()
    module = await client.get(f"/static/{asset_version()}/pages/run.js")
    assert module.status_code == 200, "ES module imports resolve under the same version"
    # A page loaded before an upgrade asks for its old version: today's file, revalidated.
    stale = await client.get("/static/0ld/app.js")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"


async def test_no_file_outside_the_assets_is_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/static/v/%2e%2e/endpoints.py",
        "/static/v/pages/%2E%2E/%2E%2E/endpoints.py",
        "/static/v/index.html",  # only through a page, with its version filled in
        "/static/v/nope.js",
        "/static/v/",
        "/static/v/../../pyproject.toml",
    ):
        response = await client.get(path, follow_redirects=True)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_browser_gets_the_apps_404_page_and_api_clients_keep_problem_json(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    for path in ("/no/such/page", "/v1/nothing-here", "/docs/nothing", "/health/nothing"):
        headers = BROWSER if path.startswith(("/v1", "/docs", "/health")) else {}
        response = await client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json"), path
    # Methods other than GET, and 405s of the API, are as before.
    assert (await client.post("/no/such/page", headers=BROWSER)).status_code == 404
    assert (await client.put("/v1/videos", headers=BROWSER)).status_code == 405


async def test_the_app_shadows_nothing_of_the_api(client: httpx.AsyncClient) -> None:
    assert not [page for page in PAGES if page.startswith(API_PREFIXES)]
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "kadr"
    assert (await client.get("/docs", headers=BROWSER)).status_code == 200
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/metrics")).status_code == 200
    assert not [path for path in (await client.get("/openapi.json")).json()["paths"] if path in PAGES]


def test_the_server_knows_every_page_the_app_routes() -> None:
    """static/app.js declares its pages with route("/path/:id", ...); a reload of any of them
    must reach the app, so the server lists the same paths (with {id} for :id)."""
    declared = re.findall(r'route\("([^"]+)"', (STATIC / "app.js").read_text())
    as_server_paths = {re.sub(r":([a-z_]+)", "{}", path) for path in declared}
    assert as_server_paths == {re.sub(r"\{[a-z_]+\}", "{}", page) for page in PAGES}
