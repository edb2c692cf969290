"""HTTP plumbing: problem+json error handlers and their OpenAPI description (pagination: core.pagination)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts  # included routers stay nested; this flattens them
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, compile_path

from kadr.core.errors import PROBLEM_BASE, KadrError, ServiceUnavailable
from kadr.core.logging import get_logger
from kadr.core.metrics import ERRORS_TOTAL

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)

_STATUS_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    429: "rate-limited",
    503: "service-unavailable",
}


#: Answers a request for a path no route has with a page, or None to answer problem+json.
NotFoundPage = Callable[[Request], Response | None]


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers)


def _is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeoutError | OperationalError | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KadrError)
    async def _kadr_error(request: Request, exc: KadrError) -> JSONResponse:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        if exc.status == 429 and "retry_after" in exc.extra:
            headers["Retry-After"] = str(int(exc.extra["retry_after"]))
        return problem_response(exc.to_problem(request.url.path), headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        return problem_response(
            {
                "type": PROBLEM_BASE + "validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": detail,
                "instance": request.url.path,
                "errors": errors,
            }
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            # A path no route has: the browser app may answer with its own 404 page (kadr.web).
            not_found_page: NotFoundPage | None = getattr(request.app.state, "not_found_page", None)
            page = not_found_page(request) if not_found_page is not None else None
            if page is not None:
                return page
        headers = dict(exc.headers) if exc.headers else {}
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = allowed_methods(request.app.router.routes, request.url.path)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": ", ".join([*allowed, "OPTIONS"])})
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; use {headers['Allow']}"
        slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
        return problem_response(
            {
                "type": PROBLEM_BASE + slug,
                "title": slug.replace("-", " ").capitalize(),
                "status": exc.status_code,
                "detail": detail,
                "instance": request.url.path,
            },
            headers or None,
        )

    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if not _is_database_unavailable(exc):
            return await _unhandled(request, exc)
        ERRORS_TOTAL.labels(where="api", type="database_unavailable").inc()
        log.warning("database unavailable", path=request.url.path, error=str(exc)[:200])
        return problem_response(
            ServiceUnavailable("The database is unreachable; try again shortly.").to_problem(
                request.url.path
            ),
            {"Retry-After": "5"},
        )

    # Specific handlers answer and stop there; the catch-all `Exception` handler answers and then
    # re-raises (Starlette's ServerErrorMiddleware), which makes the server drop the connection.
    for error_type in (DBAPIError, PoolTimeoutError, ConnectionError, TimeoutError):
        app.add_exception_handler(error_type, _database_error)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        if _is_database_unavailable(exc):
            return await _database_error(request, exc)
        ERRORS_TOTAL.labels(where="api", type=type(exc).__name__).inc()
        log.exception("unhandled error", path=request.url.path)
        return problem_response(
            {
                "type": PROBLEM_BASE + "internal",
                "title": "Internal error",
                "status": 500,
                "detail": "An unexpected error occurred; it has been logged.",
                "instance": request.url.path,
            }
        )


def _routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, set[str], Dependant | None, bool]]:
    """(path format, methods, FastAPI dependant, in schema) of every HTTP route, included ones too."""
    for context in iter_route_contexts(list(routes)):
        path, methods = getattr(context, "path_format", None), getattr(context, "methods", None)
        if path and methods:
            original = getattr(context, "original_route", context)
            yield (
                path,
                set(methods),
                getattr(original, "dependant", None),
                bool(getattr(context, "include_in_schema", True)),
            )


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """Every method some route serves at `path` (Starlette's 405 names only the first route's,
    though GET and POST of one path are usually two routes)."""
    methods: set[str] = set()
    for path_format, route_methods, _, _ in _routes(routes):
        if compile_path(path_format)[0].match(path):
            methods |= route_methods
    return sorted(methods)


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: `type` is stable, `detail` says what to change.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": PROBLEM_BASE + "<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path"},
    },
    "additionalProperties": True,
}
_VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                }
            },
        },
    ],
}
_SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An access token (JWT) or an API key"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key (kadr_…)"},
}


def _problem(description: str, schema: str = "Problem") -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _depends_on(dependant: Dependant, calls: tuple[Callable[..., Any], ...]) -> bool:
    return any(d.call in calls or _depends_on(d, calls) for d in dependant.dependencies)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose particular errors deserve naming beside the `default` one."""
    return {status: _problem(HTTPStatus(status).phrase + " (see `detail`)") for status in statuses}


def document_problems(app: FastAPI, authenticated_by: tuple[Callable[..., Any], ...] = ()) -> None:
    """Make the OpenAPI document say how errors look: every operation answers problem+json
    (`default`), FastAPI's 422 is the ValidationProblem kadr sends, operations that depend on one
    of `authenticated_by` declare 401 and the bearer/API-key schemes, and those with path
    parameters 404."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["Problem"] = _PROBLEM_SCHEMA
        schemas["ValidationProblem"] = _VALIDATION_PROBLEM_SCHEMA
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        if authenticated_by:
            components.setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
        for path, methods, dependant, in_schema in _routes(app.routes):
            for method in methods if in_schema else ():
                operation = schema["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = _problem("The request is not valid", "ValidationProblem")
                if authenticated_by and dependant and _depends_on(dependant, authenticated_by):
                    operation["security"] = [{"bearer": []}, {"apiKey": []}]
                    responses.setdefault("401", _problem("Authentication is missing, invalid or expired"))
                if "{" in path:
                    responses.setdefault("404", _problem("No such resource (or not yours)"))
                responses.setdefault("default", _problem("Any other error, as an RFC 9457 problem"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
