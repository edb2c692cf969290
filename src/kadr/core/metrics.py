"""Prometheus metrics. Counters and histograms are per process; gauges that
describe shared state (queue lengths, runs by status) are read from the
database at scrape time so every API replica reports the same truth."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS_TOTAL = Gauge("kadr_runs_total", "Runs in the database by status", ["status"], registry=REGISTRY)
QUEUE_LENGTH = Gauge(
    "kadr_queue_length",
    "Jobs waiting or running, by queue and status",
    ["queue", "status"],
    registry=REGISTRY,
)
COMPONENT_DURATION = Histogram(
    "kadr_component_duration_seconds",
    "Wall time of pipeline components run by this process",
    ["component", "status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)
JOBS_PROCESSED = Counter(
    "kadr_jobs_processed_total",
    "Jobs this process finished, by kind and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
ERRORS_TOTAL = Counter(
    "kadr_errors_total", "Errors by where they happened and their type", ["where", "type"], registry=REGISTRY
)
HTTP_REQUESTS = Histogram(
    "kadr_http_request_duration_seconds",
    "API request latency",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=REGISTRY,
)


class MetricsMiddleware:
    """Times every HTTP request into HTTP_REQUESTS by method, route template and status.

    Plain ASGI: Starlette's BaseHTTPMiddleware runs the app in a second task and wraps
    every body, about a third of a cheap request's cost.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router records the matched route in the scope it was given.
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
