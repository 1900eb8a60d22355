"""Helpers for the deadline tests: requests received on a given day, the scan at a given moment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import TestCase
from factories import invoice_with_plan, kolkata, make_request

from januscaler_refunds.deadlines import scan
from januscaler_refunds.deadlines.models import AlertNotification
from januscaler_refunds.refunds.models import RefundRequest


def _received_on(day: dt.date, **kwargs: Any) -> RefundRequest:
    """A request received at 10:00 Kolkata on ``day`` (created with the clock at that moment)."""
    invoice = invoice_with_plan(issued_on=day - dt.timedelta(days=2))
    with time_machine.travel(kolkata(day.year, day.month, day.day), tick=False):
        return make_request(invoice=invoice, received_at=kolkata(day.year, day.month, day.day), **kwargs)


def _scan_on(day: dt.date, hour: int = 12) -> scan.ScanResult:
    """Run the scan with the clock frozen at ``hour`` o'clock Kolkata on ``day``."""
    # The test's transaction never commits: run the scan's on-commit enqueue as a commit would.
    with time_machine.travel(kolkata(day.year, day.month, day.day, hour), tick=False):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return scan.scan_deadlines()


def alert_mail(outbox: list[Any]) -> list[Any]:
    return [m for m in outbox if "X-Januscaler-Alert" in m.extra_headers]


@pytest.fixture
def rate() -> Callable[[RefundRequest], tuple[str, str, int | None]]:
    def _rate(request: RefundRequest) -> tuple[str, str, int | None]:
        request.refresh_from_db()
        return request.review_deadline_status, request.payout_deadline_status, request.business_days_left

    return _rate


def sent_to(request: RefundRequest) -> list[str]:
    return sorted(
        AlertNotification.objects.filter(alert__request=request).values_list("recipient", flat=True)
    )


@pytest.fixture
def received_on() -> Callable[..., RefundRequest]:
    return _received_on


@pytest.fixture
def scan_on() -> Callable[..., scan.ScanResult]:
    return _scan_on


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers this marker; keep --strict-markers happy when it is not loaded.
    config.addinivalue_line("markers", "xdist_group(name): run in one xdist worker")
