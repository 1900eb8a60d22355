"""The log context of the work in hand, and Celery's task signals that set it.

Kept free of Django imports: ``januscaler_refunds/celery.py`` imports it when the package loads.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from celery.signals import task_postrun, task_prerun

context: ContextVar[dict[str, str]] = ContextVar("januscaler_log_context", default={})  # noqa: B039 - never mutated


@task_prerun.connect
def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    context.set({"task_id": task_id or "", "task": getattr(task, "name", "")})


@task_postrun.connect
def task_finished(**_: Any) -> None:
    context.set({})
