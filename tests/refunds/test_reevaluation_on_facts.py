"""When facts change, open requests are evaluated again (policy-decisions.md: facts judged as known)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from factories import invoice_with_plan, kolkata, make_request

from januscaler_refunds.billing.models import Incident, Violation
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db


def test_an_open_violation_added_later_blocks_the_open_request() -> None:
    request = make_request()
    assert "account_violation" not in request.evaluation_codes
    Violation.objects.create(customer=request.customer, kind="aup", opened_on=dt.date(2026, 5, 5))
    assert services.reevaluate_open_requests(customer_ids=[request.customer_id]) == 1
    request.refresh_from_db()
    assert "account_violation" in request.evaluation_codes
    assert request.recommendation == "deny"


def test_a_januscaler_incident_turns_an_sla_claim_into_a_partial_credit() -> None:
    invoice = invoice_with_plan(Decimal("100.00"), issued_on=dt.date(2026, 5, 1))
    line = invoice.lines.get()
    line.period_start, line.period_end = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    line.save()
    request = make_request(invoice=invoice, reason="service_unavailability", received_at=kolkata(2026, 5, 10))
    assert "sla_no_qualifying_downtime" in request.evaluation_codes
    # 31 days * 24 h = 744 h; 10 h down -> 98.66% -> 25% credit.
    Incident.objects.create(ref="I-1", service="meet", start=kolkata(2026, 5, 5, 0), end=kolkata(2026, 5, 5, 10),
                            cause="januscaler")
    services.reevaluate_open_requests(services_changed=["meet"])
    request = RefundRequest.objects.get(pk=request.pk)
    assert "partial_sla_disruption" in request.evaluation_codes
    assert request.refundable_amount == Decimal("25.00")


def test_decided_requests_keep_the_snapshot_they_were_decided_on() -> None:
    request = make_request()
    request = services.refund_request_start_review(request=request, actor=None)
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal("100.00"))
    Violation.objects.create(customer=request.customer, kind="tos", opened_on=dt.date(2026, 5, 5))
    assert services.reevaluate_open_requests(customer_ids=[request.customer_id]) == 0
    request.refresh_from_db()
    assert request.refundable_amount == Decimal("100.00")
