"""GET /health/: database, migrations, broker, worker, beat (interfaces.md, "Operations").

Our own view rather than django-health-check: the shape is fixed by interfaces.md, there is no
result backend for its Celery ping check, and five checks fit in one small module. Errors are
reported by exception class only: URLs, hosts and credentials never appear in the answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from januscaler_refunds.ops.heartbeat import BEAT, WORKER_PREFIX

UP, DOWN = "up", "down"


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return UP


def check_migrations() -> str:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return DOWN if pending else UP


def check_broker() -> str:
    from januscaler_refunds import celery_app

    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    return UP


def _fresh(since: dt.datetime, *, beat: bool) -> str:
    from januscaler_refunds.ops.models import Heartbeat

    rows = Heartbeat.objects.filter(seen_at__gte=since)
    rows = rows.filter(name=BEAT) if beat else rows.filter(name__startswith=WORKER_PREFIX)
    return UP if rows.exists() else DOWN


def _stale_before() -> dt.datetime:
    # Three missed stamps: one late stamp (a busy hub, a slow database) is not an outage.
    return timezone.now() - dt.timedelta(seconds=3 * settings.HEARTBEAT_SECONDS)


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "migrations": check_migrations,
    "broker": check_broker,
    "worker": lambda: _fresh(_stale_before(), beat=False),
    "beat": lambda: _fresh(_stale_before(), beat=True),
}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    parts: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            parts[name] = {"status": check()}
        except Exception as exc:  # noqa: BLE001 - any failure means this part is down
            parts[name] = {"status": DOWN, "error": type(exc).__name__}
    down = [name for name, part in parts.items() if part["status"] != UP]
    body = {"status": DOWN if down else UP, "down": down, "parts": parts}
    return JsonResponse(body, status=503 if down else 200)
