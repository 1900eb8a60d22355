"""A 100,000-row export on PostgreSQL streams in bounded memory with a constant number of queries."""

from __future__ import annotations

import datetime as dt
import hashlib
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from januscaler_refunds.billing.models import Customer, Invoice, PolicyVersion
from januscaler_refunds.policy.calendar import KOLKATA
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports.models import ExportRecord

URL = "/admin/reports/export/refunds/?status=all&format=csv"  # all rows, not only open work
STATES = ["submitted", "under_review", "approved", "denied", "paid"]


def _bulk_requests(start: int, count: int) -> None:
    version = PolicyVersion.objects.get()
    customers = Customer.objects.bulk_create(
        [Customer(email=f"bulk{start + i}@example.com", name=f"=Bulk {start + i}") for i in range(50)]
    )
    invoices = Invoice.objects.bulk_create(
        [
            Invoice(number=f"BULK-{start + i}", customer=customers[i % 50], issued_on=dt.date(2026, 5, 1),
                    payment_method="card", currency="USD", amount_paid=Decimal("100.00"))
            for i in range(500)
        ]
    )
    base = dt.datetime(2026, 5, 4, 10, tzinfo=KOLKATA)
    batch = []
    for i in range(start, start + count):
        invoice = invoices[i % 500]
        state = STATES[i % len(STATES)]
        decided = state in ("approved", "denied", "paid")
        batch.append(
            RefundRequest(
                reference=f"BK-{i:07d}", customer_id=invoice.customer_id, invoice=invoice,
                requester_email="bulk@example.com", reason="money_back_guarantee",
                received_at=base + dt.timedelta(minutes=i % 10_000), currency="USD", policy_version=version,
                state=state, requested_amount=Decimal("-0.00") if i % 7 == 0 else Decimal("50.00"),
                refundable_amount=Decimal("100.00"), evaluation_codes=["partial_prorated_unused"],
                decision_codes=["mbg_extensive_use"] if state == "denied" else [],
                review_due_at=base + dt.timedelta(days=14),
                decided_at=base + dt.timedelta(days=3) if decided else None,
                approved_amount=Decimal("50.00") if state in ("approved", "paid") else None,
            )
        )
        if len(batch) == 10_000:
            RefundRequest.objects.bulk_create(batch)
            batch = []
    RefundRequest.objects.bulk_create(batch)


def _multiply_requests(times: int) -> None:
    """Copy every existing request ``times`` more times with new references, in one INSERT ... SELECT
    (model-level bulk_create of 99,000 rows takes most of a minute; this takes a second or two)."""
    columns = [
        f.column for f in RefundRequest._meta.concrete_fields if f.column not in ("id", "reference")
    ]
    cols = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO refunds_refundrequest (reference, {cols}) "
            f"SELECT r.reference || '-' || n, {', '.join('r.' + c for c in columns)} "
            "FROM refunds_refundrequest r CROSS JOIN generate_series(1, %s) AS n",
            [times],
        )


def _export(client: Any, *, trace: bool) -> tuple[int, int, int]:
    """Stream the whole queue export; return (queries, peak traced bytes, rows)."""
    digest = hashlib.sha256()
    peak = 0
    with CaptureQueriesContext(connection) as queries:
        if trace:
            tracemalloc.start()
        try:
            response = client.get(URL)
            assert response.status_code == 200
            for chunk in response.streaming_content:
                digest.update(chunk)
            if trace:
                _, peak = tracemalloc.get_traced_memory()
        finally:
            if trace:
                tracemalloc.stop()
    record = ExportRecord.objects.latest("id")
    assert record.status == "completed" and record.sha256 == digest.hexdigest()
    return len(queries), peak, record.row_count


@pytest.mark.postgres
@pytest.mark.django_db
def test_100k_row_export_streams_in_bounded_memory_with_constant_queries(
    client: Any, a_manager: Any, settings: Any
) -> None:
    settings.EXPORT_ASYNC_THRESHOLD_ROWS = 1_000_000  # this test is about the streamed download
    client.force_login(a_manager)
    _bulk_requests(0, 1_000)
    # A first export fills the process's caches (content types, the policy calendar, the session's
    # sign-in state): what must not grow with the rows is the count after that.
    _export(client, trace=False)
    small_queries, _, small_rows = _export(client, trace=False)
    assert small_rows == 1_000

    _multiply_requests(99)
    big_queries, big_peak, big_rows = _export(client, trace=True)
    assert big_rows == 100_000
    # Not one more query for 100x the rows. (Below 10,000 rows the paginator confirms the planner's
    # estimate with an exact COUNT, so the small export may cost one query more, never fewer.)
    assert big_queries <= small_queries
    # Generous: measured about 6 MB; holding 100,000 rows would take several hundred MB.
    assert big_peak < 60 * 1024 * 1024, f"peak {big_peak / 1e6:.1f} MB"
