"""The Celery app: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

app = Celery("januscaler_refunds")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker liveness for GET /health/: a consumer step stamps a heartbeat row (ops/heartbeat.py).
# ops.context connects the task id to every log line of a task.
from januscaler_refunds.ops import context as _task_log_context  # noqa: E402, F401
from januscaler_refunds.ops.heartbeat import WorkerHeartbeat  # noqa: E402

app.steps["consumer"].add(WorkerHeartbeat)
