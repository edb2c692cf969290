"""Warn at worker start when the broker is set up in a way that loses or repeats long jobs."""

from __future__ import annotations

from kadr.core.logging import get_logger

log = get_logger(__name__)


def broker_warnings(url: str) -> list[str]:
    """Problems with the broker's settings for hour-long jobs (empty when all is well)."""
    if url.startswith(("redis://", "rediss://")):
        return _redis_warnings(url)
    if url.startswith(("amqp://", "amqps://")):
        return [
            "RabbitMQ: make sure the delivery-ack timeout outlasts your longest job "
            "(RabbitMQ ≥ 3.12: a `consumer-timeout` policy on the video queue; older: `consumer_timeout` "
            "in rabbitmq.conf; default 30 min). kadr's leases re-deliver safely either way."
        ]
    return []


def _redis_warnings(url: str) -> list[str]:
    import redis

    warnings = []
    try:
        client = redis.Redis.from_url(url, socket_timeout=3)
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
        appendonly = client.config_get("appendonly").get("appendonly")
    except Exception as exc:  # CONFIG may be disabled on managed Redis: say so, don't fail
        return [f"Redis: could not read its configuration ({exc}); check maxmemory-policy and persistence"]
    if policy and policy != "noeviction":
        warnings.append(
            f"Redis maxmemory-policy is {policy!r}: under memory pressure it may evict queued messages; "
            "set it to 'noeviction'"
        )
    if appendonly != "yes":
        warnings.append(
            "Redis appendonly is off: a Redis restart forgets queued messages (kadr's scheduler "
            "re-sends them after KADR_JOB_REDELIVER_AFTER_SECONDS; `appendonly yes` avoids the delay)"
        )
    return warnings


def warn_about_broker(url: str) -> None:
    for warning in broker_warnings(url):
        log.warning("broker setting", advice=warning)
