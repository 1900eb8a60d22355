"""The changed readings (issue 15, item 8) through the database adapter, the services, the
``evaluate_request --json`` command and the refund report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from factories import InvoiceLineFactory, agent, invoice_with_plan, kolkata, make_request

from januscaler_refunds.billing.models import Incident, InvoiceLine
from januscaler_refunds.refunds import evaluation, services
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db

PDF = services.DocumentUpload(name="invoice.pdf", content=b"%PDF-1.4\n% evidence\n", content_type="application/pdf")


def _paid_billing_error(invoice, amount: str) -> RefundRequest:
    """A billing-error request on ``invoice`` paid out for ``amount`` through the services."""
    request = make_request(invoice=invoice, reason="billing_error", requested_amount=Decimal(amount), documents=[PDF],
                           received_at=kolkata(2026, 5, 5))
    request = services.refund_request_start_review(request=request, actor=None)
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal(amount))
    return services.refund_request_record_payout(
        request=request, actor=None, method="card", reference=f"pay-{request.reference}", amount=Decimal(amount)
    )


def _fresh(request: RefundRequest) -> RefundRequest:
    return RefundRequest.objects.get(pk=request.pk)


def test_a_guarantee_request_after_a_paid_billing_error_is_capped_at_the_rest() -> None:
    # The case: 10.00 refunded for a billing error, then the money-back guarantee on 100.00.
    invoice = invoice_with_plan(Decimal("100.00"))
    _paid_billing_error(invoice, "10.00")
    later = make_request(invoice=invoice, requested_amount=Decimal("100.00"), received_at=kolkata(2026, 5, 6))
    assert later.refundable_amount == Decimal("90.00")
    assert "cap_reduced_by_earlier_refunds" in later.evaluation_codes
    assert later.recommendation == "approve_partially"
    assert later.evaluation["earlier_refunded"] == "10.00"
    assert later.evaluation["refund_cap"] == "90.00"


def test_recording_a_payout_re_evaluates_the_other_open_request_on_the_invoice() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    first = make_request(invoice=invoice, reason="billing_error", requested_amount=Decimal("100.00"),
                         documents=[PDF], received_at=kolkata(2026, 5, 5))
    second = make_request(invoice=invoice, requested_amount=Decimal("100.00"), received_at=kolkata(2026, 5, 6))
    assert "duplicate_request" in second.evaluation_codes  # the first is still unsettled
    first = services.refund_request_start_review(request=first, actor=None)
    first = services.refund_request_approve(request=first, actor=None, amount=Decimal("100.00"))
    services.refund_request_record_payout(request=first, actor=None, method="card", reference="pay-1",
                                          amount=Decimal("100.00"))
    second = _fresh(second)
    # Paid in full before: nothing left, so a denial for nothing refundable, not a duplicate.
    assert "duplicate_request" not in second.evaluation_codes
    assert second.refundable_amount == Decimal("0.00")
    assert {"cap_reduced_by_earlier_refunds", "nothing_refundable"} <= set(second.evaluation_codes)
    assert second.recommendation == "deny"


def test_an_approved_but_unpaid_request_does_not_lower_the_cap() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    first = make_request(invoice=invoice, reason="billing_error", requested_amount=Decimal("10.00"),
                         documents=[PDF], received_at=kolkata(2026, 5, 5))
    first = services.refund_request_start_review(request=first, actor=None)
    services.refund_request_approve(request=first, actor=None, amount=Decimal("10.00"))
    facts = evaluation.load_facts(make_request(invoice=invoice, received_at=kolkata(2026, 5, 6)))
    assert facts.invoice.earlier_refunds == ()


def test_an_imported_credit_counts_as_an_earlier_refund() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    old = make_request(invoice=invoice, reason="billing_error", received_at=kolkata(2026, 5, 5), acknowledge=False)
    services.refund_request_import_history(request=old, actor=None, target="credited",
                                           decided_at=kolkata(2026, 5, 5, 12), approved_amount=Decimal("25.00"),
                                           # above the refundable 0.00 (unverified): imports need the reason too
                                           override_reason="Credited in the previous system.")
    facts = evaluation.load_facts(make_request(invoice=invoice, received_at=kolkata(2026, 5, 6)))
    assert [(r.reference, r.kind, r.amount) for r in facts.invoice.earlier_refunds] == [
        (old.reference, "credit", Decimal("25.00"))
    ]


def test_a_verified_overcharge_turns_needs_verification_into_verified() -> None:
    request = make_request(reason="billing_error", requested_amount=Decimal("20.00"), documents=[PDF])
    assert "billing_error_needs_verification" in request.evaluation_codes
    request = services.refund_request_set_verified_overcharge(request=request, actor=None, amount=Decimal("15.00"))
    request = _fresh(request)
    assert "billing_error_verified" in request.evaluation_codes
    assert "billing_error_needs_verification" not in request.evaluation_codes
    assert request.refundable_amount == Decimal("15.00")


def _sla_request(line_service: str) -> RefundRequest:
    invoice = invoice_with_plan(Decimal("100.00"), issued_on=dt.date(2026, 5, 1))
    InvoiceLine.objects.filter(invoice=invoice).update(
        service=line_service, period_start=dt.date(2026, 5, 1), period_end=dt.date(2026, 5, 31))
    return make_request(invoice=invoice, reason="service_unavailability", documents=[PDF],
                        received_at=kolkata(2026, 5, 10))


@pytest.mark.parametrize(("line_service", "incident_service"), [("Video", "video"), ("video", "VIDEO"),
                                                                ("Video", " video ")])
def test_an_incident_counts_for_a_line_whatever_the_case_of_the_service(line_service: str, incident_service: str) -> None:
    request = _sla_request(line_service)
    # 31 days * 24 h = 744 h; 10 h down -> 98.66% -> 25% credit.
    Incident.objects.create(ref="I-1", service=incident_service, start=kolkata(2026, 5, 5, 0),
                            end=kolkata(2026, 5, 5, 10), cause="januscaler")
    assert services.reevaluate_open_requests(services_changed=[incident_service]) == 1
    request = _fresh(request)
    assert request.refundable_amount == Decimal("25.00")
    assert "partial_sla_disruption" in request.evaluation_codes


def test_an_incident_on_another_service_does_not_count_whatever_its_case() -> None:
    request = _sla_request("Video")
    Incident.objects.create(ref="I-2", service="VIDEO-EU", start=kolkata(2026, 5, 5, 0),
                            end=kolkata(2026, 5, 5, 10), cause="januscaler")
    assert services.reevaluate_open_requests(services_changed=["VIDEO-EU"]) == 0
    services.refund_request_reevaluate(request=request, actor=None)
    assert _fresh(request).refundable_amount == Decimal("0.00")


def test_evaluate_request_json_shows_the_new_codes_with_the_interface_fields() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    InvoiceLineFactory(invoice=invoice, line_no=2, category="setup", amount=Decimal("0.00"))
    InvoiceLine.objects.filter(invoice=invoice, line_no=1).update(category="usage_fee")
    request = make_request(invoice=invoice, requested_amount=Decimal("100.00"))
    out = io.StringIO()
    call_command("evaluate_request", request.reference, "--json", stdout=out)
    data = json.loads(out.getvalue())
    for field in ("reference", "policy_version", "recommendation", "codes", "refundable_amount", "currency",
                  "review_due", "clauses", "lines"):
        assert field in data
    assert data["recommendation"] == "deny"
    assert "nothing_refundable" in data["codes"]
    assert data["refundable_amount"] == "0.00"
    assert any(c["name"] == "nothing_refundable" and c["verdict"] == "fail" for c in data["clauses"])


def test_the_refund_report_lists_the_new_codes() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    _paid_billing_error(invoice, "100.00")
    later = make_request(invoice=invoice, requested_amount=Decimal("100.00"), received_at=kolkata(2026, 5, 6))
    out = io.StringIO()
    call_command("export_refunds", stdout=out)
    rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    codes = rows[later.reference]["reason_codes"].split(";")
    assert "cap_reduced_by_earlier_refunds" in codes and "nothing_refundable" in codes


def test_the_review_page_shows_the_earlier_refunds_and_the_lowered_cap() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    _paid_billing_error(invoice, "10.00")
    later = make_request(invoice=invoice, requested_amount=Decimal("100.00"), received_at=kolkata(2026, 5, 6))
    client = Client()
    client.force_login(agent())
    html = client.get(reverse("admin:refunds_refundrequest_change", args=[later.pk])).content.decode()
    assert 'data-testid="earlier-refunds"' in html
    assert "Less already refunded on earlier requests" in html and "90.00" in html
