"""Log lines carry request id / task id and user; JSON on request; no email bodies by default."""

from __future__ import annotations

import json
import logging

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from factories import agent

from januscaler_refunds.ops.context import task_finished, task_started
from januscaler_refunds.ops.logging import ContextFilter, JsonFormatter

pytestmark = pytest.mark.django_db


def test_a_request_line_names_its_request_id_and_user(client, caplog) -> None:  # type: ignore[no-untyped-def]
    client.force_login(agent())
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="januscaler_refunds.access"):
        response = client.get("/admin/", HTTP_X_REQUEST_ID="req-abc.1")
    assert response["X-Request-ID"] == "req-abc.1"
    [record] = [r for r in caplog.records if r.name == "januscaler_refunds.access"]
    assert record.getMessage().startswith("GET /admin/ 200")
    assert (record.request_id, record.user) == ("req-abc.1", "agent")


def test_an_unsafe_incoming_request_id_is_replaced(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/health/", HTTP_X_REQUEST_ID="evil\nline")
    assert "\n" not in response["X-Request-ID"] and len(response["X-Request-ID"]) == 16


def test_task_lines_carry_the_task_id_and_json_is_one_object_per_line() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", ("ack",), None)

    class Task:
        name = "refunds.send"

    task_started(task_id="t-1", task=Task())
    ContextFilter().filter(record)
    task_finished()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": ""} == {
        "time": "", "level": "INFO", "logger": "x", "message": "sent ack", "task_id": "t-1", "task": "refunds.send"}


def test_the_default_email_backend_logs_one_line_without_the_body(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "januscaler_refunds.ops.mail.LogEmailBackend"
    with caplog.at_level(logging.INFO, logger="januscaler_refunds.mail"):
        EmailMessage("Your refund", "Private words of the customer", to=["a@example.com"],
                     headers={"Message-ID": "<m1@januscaler.com>"}, connection=mail.get_connection()).send()
    assert "a@example.com" in caplog.text and "<m1@januscaler.com>" in caplog.text
    assert "Private words" not in caplog.text
