"""The Celery app is wired by the package, not by the test suite (house style, habit 11).

A ``manage.py shell`` subprocess (importing only what the product imports) calls a real task's
``.delay()`` with REDIS_URL pointing at the test Redis and a queue of its own; the message must
land in that Redis list. Without ``from .celery import app`` in ``januscaler_refunds/__init__.py``
the task would go to Celery's default app (amqp://localhost) and the list would stay empty.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

pytestmark = [pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def test_manage_py_enqueues_on_the_configured_redis(tmp_path: Path) -> None:
    queue = f"wiring-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(TEST_REDIS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_"))}
    env.update(
        REDIS_URL=TEST_REDIS,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="januscaler_refunds.settings",
    )
    code = (
        "from januscaler_refunds.refunds.tasks import resend_queued_customer_messages as t; "
        "print(t.delay().id)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        task_id = done.stdout.strip().splitlines()[-1]
        raw: bytes | None = client.lpop(queue)  # type: ignore[assignment]
        assert raw is not None, f"nothing arrived in Redis list {queue!r}: {done.stderr[-2000:]}"
        message = json.loads(raw)
        assert message["headers"]["task"] == "januscaler_refunds.refunds.tasks.resend_queued_customer_messages"
        assert message["headers"]["id"] == task_id
        assert json.loads(base64.b64decode(message["body"]))[0] == []
    finally:
        client.delete(queue)
