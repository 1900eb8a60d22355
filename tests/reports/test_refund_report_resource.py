"""The refund report's columns (a public interface) and how each is computed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from factories import kolkata, make_request
from reports.helpers import denied_request, paid_request

from januscaler_refunds.billing.models import CompanyHoliday
from januscaler_refunds.refunds import services
from januscaler_refunds.reports.resources import RefundReportResource

INTERFACE_COLUMNS = [
    "reference", "received_at", "customer_name", "customer_email", "invoice_number", "invoice_date",
    "payment_method", "reason", "state", "recommendation", "reason_codes", "policy_version",
    "requested_amount", "refundable_amount", "approved_amount", "settled_amount", "currency", "assignee",
    "review_due", "decided_at", "business_days_to_decision", "review_deadline_met", "payout_due",
    "settled_at", "payout_deadline_met",
]


def _row(reference: str) -> dict[str, Any]:
    resource = RefundReportResource()
    headers = resource.get_export_headers()
    for values in resource.export_rows(resource.rows()):
        if values[0] == reference:
            return dict(zip(headers, values, strict=True))
    raise AssertionError(reference)


def test_columns_are_the_interface_columns_in_order() -> None:
    assert RefundReportResource().get_export_headers() == INTERFACE_COLUMNS


@pytest.mark.django_db
def test_paid_request_row_has_typed_values_and_deadlines_met(a_manager: Any, a_finance: Any) -> None:
    # Received Wednesday 2026-05-06; review due 2026-05-20; decided Friday 2026-05-08 (2 business days).
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
        request = paid_request(manager=a_manager, finance=a_finance, received_at=kolkata(2026, 5, 6))
    row = _row(request.reference)
    assert row["state"] == "paid"
    assert row["received_at"] == kolkata(2026, 5, 6)
    assert row["received_at"].utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert row["invoice_date"] == dt.date(2026, 5, 4)
    assert row["settled_amount"] == Decimal("100.00")
    assert row["approved_amount"] == Decimal("100.00")
    assert row["assignee"] == "boss"
    assert row["policy_version"] == "2025-01-06"
    assert row["review_due"] == dt.date(2026, 5, 20)
    assert row["business_days_to_decision"] == 2
    assert row["review_deadline_met"] == "yes"
    assert row["payout_deadline_met"] == "yes"
    assert row["payout_due"] == dt.date(2026, 5, 22)


@pytest.mark.django_db
def test_business_days_to_decision_skip_company_holidays(a_manager: Any) -> None:
    CompanyHoliday.objects.create(date=dt.date(2026, 5, 7), name="Offsite")
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
        request = denied_request(manager=a_manager, received_at=kolkata(2026, 5, 6))
    assert _row(request.reference)["business_days_to_decision"] == 1


@pytest.mark.django_db
def test_decided_request_reports_decision_codes_open_one_its_evaluation_codes(a_manager: Any) -> None:
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
        denied = denied_request(manager=a_manager, received_at=kolkata(2026, 5, 6))
        open_request = make_request(reason="other", received_at=kolkata(2026, 5, 7))
    assert _row(denied.reference)["reason_codes"] == "mbg_extensive_use"
    open_row = _row(open_request.reference)
    assert open_row["reason_codes"] == ";".join(open_request.evaluation_codes)
    assert "not_a_ground_dissatisfaction" in open_row["reason_codes"].split(";")


@pytest.mark.django_db
def test_open_request_leaves_deadline_met_blank_and_late_decision_says_no(a_manager: Any) -> None:
    with time_machine.travel(kolkata(2026, 5, 6, 12), tick=False):
        open_request = make_request(received_at=kolkata(2026, 5, 6))
    row = _row(open_request.reference)
    assert row["review_deadline_met"] == "" and row["payout_deadline_met"] == ""
    assert row["business_days_to_decision"] is None and row["decided_at"] is None
    with time_machine.travel(kolkata(2026, 6, 1, 12), tick=False):  # due 2026-05-20
        services.refund_request_start_review(request=open_request, actor=a_manager)
        services.refund_request_deny(request=open_request, actor=a_manager, codes=["window_expired"], message="Late.")
    assert _row(open_request.reference)["review_deadline_met"] == "no"


@pytest.mark.django_db
def test_withdrawn_request_has_no_decision_figures(a_manager: Any) -> None:
    with time_machine.travel(kolkata(2026, 5, 7, 12), tick=False):
        request = make_request(received_at=kolkata(2026, 5, 6))
        services.refund_request_withdraw(request=request, actor=a_manager)
    row = _row(request.reference)
    assert row["state"] == "withdrawn"
    assert row["business_days_to_decision"] is None and row["review_deadline_met"] == ""


@pytest.mark.django_db
def test_resource_export_gives_a_dataset(a_manager: Any) -> None:
    make_request(received_at=kolkata(2026, 5, 6))
    dataset = RefundReportResource().export()
    assert dataset.headers == INTERFACE_COLUMNS
    assert len(dataset) == 1
