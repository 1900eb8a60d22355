"""Worker and beat liveness: each stamps a ``Heartbeat`` row every HEARTBEAT_SECONDS.

The worker stamps from a consumer bootstep, so the stamp stops when the worker stops consuming
(broker lost, process dead), not merely when a task is slow. Beat stamps from its scheduler's tick,
so it is beat itself that is proven alive (a scheduled heartbeat task would need the worker too).
Stamps go to the database, the one store every process shares whatever the broker.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler

log = logging.getLogger(__name__)

BEAT = "beat"
WORKER_PREFIX = "worker:"


def stamp(name: str) -> None:
    """Record that ``name`` is alive now. Never raises: a liveness stamp must not stop the process."""
    from django.db import close_old_connections, connection
    from django.utils import timezone

    from januscaler_refunds.ops.models import Heartbeat

    try:
        if not connection.in_atomic_block:  # a long-lived process: drop a broken or stale connection first
            close_old_connections()
        Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
    except Exception:  # noqa: BLE001 - the database may be down; the health check will say so
        log.warning("could not stamp heartbeat %s", name, exc_info=True)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer step: starts once the worker consumes tasks, stops when it stops."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        name = f"{WORKER_PREFIX}{parent.hostname}"
        stamp(name)
        self.tref = parent.timer.call_repeatedly(settings.HEARTBEAT_SECONDS, stamp, (name,), priority=10)

    def stop(self, parent: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatScheduler(PersistentScheduler):
    """The default scheduler, stamping ``beat`` as it ticks (CELERY_BEAT_MAX_INTERVAL bounds the gap)."""

    _last_stamp = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        from django.conf import settings

        delay = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last_stamp >= settings.HEARTBEAT_SECONDS / 2:
            self._last_stamp = now
            stamp(BEAT)
        return float(delay)
