"""Helpers for chargeback tests: record a chargeback through the service with sensible defaults."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from factories import kolkata

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.chargebacks import services
from januscaler_refunds.chargebacks.models import Chargeback


def _record(invoice: Invoice, *, ref: str = "CB-1", received_at: dt.datetime | None = None,
           fee: str = "15.00", evidence_due: dt.date | None = None, actor: Any = None,
           amount: str | None = None) -> Chargeback:
    return services.chargeback_record(
        invoice=invoice,
        ref=ref,
        amount=Decimal(amount) if amount else invoice.amount_paid,
        currency=invoice.currency,
        network_reason="10.4 Fraud",
        received_at=received_at or kolkata(2026, 5, 12),
        evidence_due=evidence_due,
        fee=Decimal(fee),
        actor=actor,
    )


@pytest.fixture
def record():  # type: ignore[no-untyped-def]
    """``record(invoice, ref=..., received_at=..., fee=...)``: a chargeback through the service."""
    return _record


@pytest.fixture(autouse=True)
def _no_webhook_url(settings) -> None:  # type: ignore[no-untyped-def]
    """Unless a test starts a receiver, events are stored but not sent anywhere."""
    settings.CHARGEBACK_WEBHOOK_URL = ""
    settings.CHARGEBACK_WEBHOOK_SECRET = "test-secret"
