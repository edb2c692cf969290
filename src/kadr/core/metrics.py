"""Prometheus metrics. Counters and histograms are per process; gauges that
describe shared state (queue lengths, runs by status) are read from the
database at scrape time so every API replica reports the same truth."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
