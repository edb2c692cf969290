"""HTTP plumbing: problem+json error handlers and pagination parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=int(body["status"]), media_type=PROBLEM_JSON, headers=headers)


def _is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, PoolTimeoutError | OperationalError | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KadrError)
    async def _kadr_error(request: Request, exc: KadrError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429 and "retry_after" in exc.extra:
            headers = {"Retry-After": str(int(exc.extra["retry_after"]))}
        return problem_response(exc.to_problem(request.url.path), headers)

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
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
        return problem_response(
            {
                "type": PROBLEM_BASE + slug,
                "title": slug.replace("-", " ").capitalize(),
                "status": exc.status_code,
                "detail": str(exc.detail),
                "instance": request.url.path,
            },
            dict(exc.headers) if exc.headers else None,
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


class Page:
    """limit/offset pagination, the same on every list endpoint."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="Items per page")] = 50,
        offset: Annotated[int, Query(ge=0, description="Items to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset
