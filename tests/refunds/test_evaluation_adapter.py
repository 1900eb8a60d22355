"""The database adapter: fixed query count, stored snapshot, the evaluate_request command."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import InvoiceFactory, InvoiceLineFactory, invoice_with_plan, kolkata, make_request

from januscaler_refunds.billing.models import AbuseReport, Incident, PolicyVersion, UsageRecord
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db


def _history(request: RefundRequest, size: int) -> None:
    customer = request.customer
    for n in range(size):
        invoice = InvoiceFactory(customer=customer, issued_on=dt.date(2026, 1, 1) + dt.timedelta(days=n),
                                 kind="renewal")
        InvoiceLineFactory(invoice=invoice, line_no=1)
        AbuseReport.objects.create(ref=f"AB-{request.pk}-{n}", customer=customer, received_at=kolkata(2026, 1, 2))
        Incident.objects.create(ref=f"INC-{request.pk}-{n}", service="meet", start=kolkata(2026, 5, 5),
                                end=kolkata(2026, 5, 5, 11), cause="januscaler")
        line = request.invoice.lines.first()
        UsageRecord.objects.create(customer=customer, invoice_line=line, at=kolkata(2026, 5, 5, 9) + dt.timedelta(minutes=n),
                                   units=1)
        make_request(invoice=invoice, reason="billing_error")


def _count_queries(request: RefundRequest) -> int:
    with CaptureQueriesContext(connection) as ctx:
        evaluation.load_facts(RefundRequest.objects.select_related("invoice", "customer", "policy_version").get(pk=request.pk))
    return len(ctx.captured_queries)


def test_loading_facts_takes_the_same_queries_whatever_the_history() -> None:
    small = make_request(reason="service_unavailability")
    big = make_request(reason="service_unavailability")
    _history(big, 12)
    assert _count_queries(small) == _count_queries(big) <= 13


def test_the_snapshot_is_stored_with_version_and_time() -> None:
    request = make_request(requested_amount=Decimal("40.00"))
    request.refresh_from_db()
    assert request.evaluation["policy_version"] == "2025-01-06"
    assert request.evaluation["reference"] == request.reference
    assert request.evaluated_at is not None
    assert request.recommendation == "approve"
    assert request.refundable_amount == Decimal("100.00")
    assert request.review_due_at is not None


def test_a_request_keeps_the_version_in_force_when_received() -> None:
    PolicyVersion.objects.create(label="2026-06-01", effective_date=dt.date(2026, 6, 1),
                                 announced_on=dt.date(2026, 5, 1))
    before = make_request(invoice=invoice_with_plan(issued_on=dt.date(2026, 5, 28)), received_at=kolkata(2026, 5, 31))
    after = make_request(invoice=invoice_with_plan(issued_on=dt.date(2026, 5, 28)), received_at=kolkata(2026, 6, 1))
    assert before.policy_version.label == "2025-01-06"
    assert after.policy_version.label == "2026-06-01"
    assert RefundRequest.objects.get(pk=after.pk).evaluation["policy_version"] == "2026-06-01"


def test_evaluate_request_prints_json_with_the_public_fields() -> None:
    request = make_request(requested_amount=Decimal("30.00"))
    out = StringIO()
    call_command("evaluate_request", request.reference, "--json", stdout=out)
    data = json.loads(out.getvalue())
    for key in ("reference", "policy_version", "recommendation", "codes", "refundable_amount", "currency",
                "review_due", "clauses", "lines"):
        assert key in data
    assert data["refundable_amount"] == "100.00"
    assert data["recommendation"] == "approve"
    assert {"section", "name", "verdict", "explanation"} <= set(data["clauses"][0])
    assert {"description", "category", "amount", "allowed", "why"} <= set(data["lines"][0])


def test_evaluate_request_text_reads_as_a_checklist() -> None:
    request = make_request()
    out = StringIO()
    call_command("evaluate_request", request.reference.lower(), stdout=out)
    text = out.getvalue()
    assert f"Refund request {request.reference}" in text
    assert "Recommendation: APPROVE" in text
    assert "✓" in text


def test_evaluate_request_names_an_unknown_reference() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="RR-999999"):
        call_command("evaluate_request", "RR-999999")
