"""Log context: every line carries the request id or task id and the user, JSON when LOG_FORMAT=json.

A context variable holds what is known about the work in hand; the web middleware fills it per
request, Celery's task_prerun/task_postrun signals per task. A handler filter copies it onto each
record, so third-party loggers' lines carry it too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from januscaler_refunds.ops.context import context as _context

_FIELDS = ("request_id", "task_id", "task", "user")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``task_id``, ``task``, ``user`` and a compact ``context`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for name in _FIELDS:
            setattr(record, name, ctx.get(name, ""))
        record.context = " ".join(f"{k}={ctx[k]}" for k in ("request_id", "task_id", "user") if ctx.get(k)) or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, "")
            if value:
                data[name] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


access_log = logging.getLogger("januscaler_refunds.access")


class RequestContextMiddleware:
    """Sets the request id (a sane incoming X-Request-ID, or a new one) and the user; logs one line.

    Sits after AuthenticationMiddleware. Static files never reach it (WhiteNoise answers first),
    so the log has no static access lines; health probes are logged at DEBUG only.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]
        token = _context.set(_request_context(request, request_id))
        started = time.monotonic()
        try:
            response = self.get_response(request)
            _context.set(_request_context(request, request_id))  # a login names the user now
            level = logging.DEBUG if request.path == "/health/" else logging.INFO
            access_log.log(
                level, "%s %s %s %.0fms", request.method, request.path, response.status_code,
                (time.monotonic() - started) * 1000,
            )
            response["X-Request-ID"] = request_id
            return response
        finally:
            _context.reset(token)


def _request_context(request: HttpRequest, request_id: str) -> dict[str, str]:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return {"request_id": request_id, "user": user.get_username()}
    return {"request_id": request_id}
