"""An export above the async threshold with the broker down is refused clearly: no 500, nothing pending."""

from __future__ import annotations

from collections.abc import Iterator

import kombu.pools
import pytest
from factories import make_request, manager
from system.topology import free_port

from januscaler_refunds import celery_app
from januscaler_refunds.reports.models import ExportRecord

pytestmark = pytest.mark.django_db


def _fresh_pools() -> None:
    # Earlier tests may have left a producer pool connected to the real broker; drop it so the
    # next publish connects to the URL set now. kombu keeps pools in a process-wide registry keyed
    # by connection, and the app fetches them from there again: closing one pool and keeping it
    # registered would leave later tests an "Acquire on closed pool". reset() closes and forgets all.
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down() -> Iterator[None]:
    saved = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    # A port nothing listens on: free now, closed when the export connects.
    celery_app.conf.update(task_always_eager=False, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    _fresh_pools()
    yield
    celery_app.conf.update(task_always_eager=saved[0], broker_url=saved[1])
    _fresh_pools()


def test_the_export_is_refused_with_a_message_and_its_record_is_failed(client, settings, broker_down) -> None:  # type: ignore[no-untyped-def]
    settings.EXPORT_ASYNC_THRESHOLD_ROWS = 0
    make_request()
    assert celery_app.connection_for_write().as_uri().endswith(celery_app.conf.broker_url.rsplit(":", 1)[1])
    client.force_login(manager())
    response = client.get("/admin/reports/export/refunds/?format=xlsx", follow=True)
    assert response.status_code == 200
    assert "could not be queued: the background service is unreachable" in response.content.decode()
    record = ExportRecord.objects.get()
    assert record.status == ExportRecord.Status.FAILED
    assert "unreachable" in record.error and record.finished_at is not None
