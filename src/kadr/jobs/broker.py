"""Dramatiq set-up. The broker only carries "job <id> is ready"; the database owns the job.

`memory://` is Dramatiq's in-process StubBroker (embedded mode); `redis://` and
`amqp://` select the Redis and RabbitMQ brokers (distributed mode).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from kadr.core.logging import get_logger
from kadr.jobs.registry import QUEUES

log = get_logger(__name__)

Deliver = Callable[[str], Awaitable[None]]

_lock = threading.Lock()
_broker: dramatiq.Broker | None = None
_actors: dict[str, dramatiq.Actor[[str], None]] = {}
_deliver: Deliver | None = None


def _make_broker(url: str) -> dramatiq.Broker:
    if url.startswith("memory://"):
        broker: dramatiq.Broker = StubBroker(middleware=[])
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url, middleware=[])
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=[], confirm_delivery=True)
    else:
        raise ValueError(f"unsupported KADR_BROKER_URL {url!r} (use memory://, redis:// or amqp://)")
    broker.add_middleware(AsyncIO())
    return broker


async def _dispatch(job_id: str) -> None:
    if _deliver is None:
        raise RuntimeError("no job executor in this process")
    await _deliver(job_id)


def setup_broker(url: str) -> dramatiq.Broker:
    """Create the process's broker and one actor per queue (idempotent per URL)."""
    global _broker
    with _lock:
        if _broker is not None:
            return _broker
        broker = _make_broker(url)
        dramatiq.set_broker(broker)
        for queue in QUEUES:
            register = dramatiq.actor(actor_name=f"kadr_{queue}", queue_name=queue, broker=broker)
            _actors[queue] = register(_dispatch)
        _broker = broker
        return broker


def set_executor(deliver: Deliver | None) -> None:
    """The coroutine this process's actors run for each message."""
    global _deliver
    _deliver = deliver


def current_broker() -> dramatiq.Broker | None:
    return _broker


def reset_broker() -> None:
    """Forget the broker (shutdown, tests)."""
    global _broker
    with _lock:
        if _broker is not None:
            try:
                _broker.close()
            except Exception:  # closing a dead connection must not mask the shutdown
                log.warning("broker close failed", exc_info=True)
        _broker = None
        _actors.clear()


def send(queue: str, job_id: str, delay_seconds: float = 0.0) -> bool:
    """Ring the doorbell for `job_id`. False when no broker is set up or it is unreachable;
    the scheduler re-delivers such jobs, so a failed send loses nothing."""
    actor = _actors.get(queue)
    if actor is None:
        return False
    try:
        if delay_seconds > 0:
            actor.send_with_options(args=(job_id,), delay=int(delay_seconds * 1000))
        else:
            actor.send(job_id)
        return True
    except Exception as exc:  # broker down: the scheduler's sweep will resend
        log.warning("broker send failed", queue=queue, job_id=job_id, error=str(exc))
        return False
