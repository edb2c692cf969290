"""The browser app over HTTP: its pages answer index.html, `/static/<version>/…` its files.

The app is a small single-page app (static/app.js) that routes in the browser and speaks only
to the public /v1 API. The server knows its page paths so that a reload or a shared link opens
the right page; a path no page has opens the app's 404 page (with status 404) in a browser,
while API clients keep getting problem+json. Nothing here shadows /v1, /docs, /openapi.json,
/health or /metrics.

Assets are addressed by a version made of their content: the files can be cached for a year,
and ES module imports (relative URLs) inherit the version without a build step.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from kadr.core.errors import NotFound

STATIC = Path(__file__).parent / "static"
#: The app's pages (static/app.js declares the same paths); a new page adds its path here too.
PAGES = (
    "/",
    "/sign-in",
    "/sign-up",
    "/profile",
    "/api-keys",
    "/videos",
    "/videos/{video_id}",
    "/videos/{video_id}/runs/new",
    "/runs/{run_id}",
    "/runs/{run_id}/review",
    "/scenarios",
    "/scenarios/new",
    "/scenarios/{scenario_id}",
    "/shared/scenarios/{token}",
    "/channels",
    "/publications",
    "/inbox",
    "/inbox/settings",
    "/admin",
)
#: Where the API and its documents live: never a page, never the app's 404.
API_PREFIXES = ("/v1", "/docs", "/redoc", "/openapi.json", "/health", "/metrics", "/static")
IMMUTABLE = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
#: Scripts and styles only from this origin (no inline code: an injected string cannot run);
#: media, images and uploads may use object storage's presigned URLs on another origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob: http: https:",
        "media-src 'self' blob: http: https:",
        "connect-src 'self' http: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The shell is tiny and names the current asset version: always revalidated.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@cache
def asset_version() -> str:
    """A digest of every asset's path and bytes: changes whenever any file does."""
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def _index_html() -> bytes:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    return template.replace("{{assets}}", f"/static/{asset_version()}").encode()


def page_response(status_code: int = 200) -> Response:
    return Response(
        _index_html(), status_code=status_code, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


async def page() -> Response:
    """The app's shell; the browser-side router draws the page the path names."""
    return page_response()


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET"], include_in_schema=False)


@router.get("/static/{version}/{asset:path}")
async def static_asset(version: str, asset: str) -> Response:
    """One of the app's files; cached for good when `version` is the current one."""
    root = STATIC.resolve()
    path = (root / asset).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path == root / "index.html":
        raise NotFound(f"the web app has no file {asset}")
    # An old version (a page loaded before an upgrade) gets today's file, revalidated each time.
    cache_control = IMMUTABLE if version == asset_version() else "no-cache"
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )


def wants_page(request: Request) -> bool:
    """A browser opening a page (it asks for HTML), not an API client (JSON, anything)."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def not_found_page(request: Request) -> Response | None:
    """The app's 404 page for a browser that opened a path no page has; None for API clients."""
    if not wants_page(request):
        return None
    path = request.url.path
    if any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES):
        return None
    return page_response(404)
