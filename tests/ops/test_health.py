"""GET /health/: 200 with every part up; 503 naming the part that is down; nothing secret."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone

from januscaler_refunds import celery_app
from januscaler_refunds.ops.heartbeat import stamp
from januscaler_refunds.ops.models import Heartbeat

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def broker_url() -> Iterator[None]:
    from conftest import TEST_REDIS_URL

    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = TEST_REDIS_URL
    yield
    celery_app.conf.broker_url = saved


def test_all_parts_up_answers_200_without_login(client, broker_url) -> None:  # type: ignore[no-untyped-def]
    stamp("worker:w1@host")
    stamp("beat")
    response = client.get("/health/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "up" and body["down"] == []
    assert {name: part["status"] for name, part in body["parts"].items()} == {
        "database": "up", "migrations": "up", "broker": "up", "worker": "up", "beat": "up"}


def test_a_stopped_broker_is_named_with_503_and_no_url(client, broker_url) -> None:  # type: ignore[no-untyped-def]
    stamp("worker:w1@host")
    stamp("beat")
    celery_app.conf.broker_url = "redis://:secret-password@127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
    assert response.json()["parts"]["broker"]["status"] == "down"
    assert b"secret-password" not in response.content and b"127.0.0.1" not in response.content


def test_a_silent_worker_and_beat_are_down_after_three_missed_heartbeats(client, broker_url, settings) -> None:  # type: ignore[no-untyped-def]
    old = timezone.now() - dt.timedelta(seconds=3 * settings.HEARTBEAT_SECONDS + 1)
    Heartbeat.objects.create(name="worker:w1@host", seen_at=old)
    Heartbeat.objects.create(name="beat", seen_at=old)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker", "beat"]
