"""Suspension only through its services; billing facts behind a decision frozen (issue 12, finding 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import tablib
from django.contrib import admin
from django.test import Client, RequestFactory
from django.utils import timezone
from factories import finance, invoice_with_plan, make_request, manager

from januscaler_refunds.billing.models import Customer, Invoice
from januscaler_refunds.chargebacks import services as chargeback_services
from januscaler_refunds.chargebacks.models import SuspensionEvent
from januscaler_refunds.intake.resources import (
    CustomerResource,
    InvoiceLineResource,
    InvoiceResource,
)
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import Payout, RefundRequest
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _suspended_customer() -> Customer:
    invoice = invoice_with_plan(Decimal("50.00"))
    chargeback_services.chargeback_record(
        invoice=invoice, ref="CB-FREEZE", amount=Decimal("50.00"), currency="USD", network_reason="fraud",
        received_at=timezone.now(), evidence_due=None, fee=Decimal("0.00"), actor=None)
    customer = Customer.objects.get(pk=invoice.customer_id)
    assert customer.status == Customer.Status.SUSPENDED and customer.suspended_at is not None
    return customer


def _approved(*, payment_method: str = "card", approver: Any = None) -> RefundRequest:
    invoice = invoice_with_plan(Decimal("100.00"), payment_method=payment_method)
    request = make_request(invoice=invoice)
    approver = approver or manager("approver")
    services.refund_request_start_review(request=request, actor=approver)
    return services.refund_request_approve(request=request, actor=approver, amount=Decimal("50.00"))


# --- suspension: only through the services ------------------------------------------------------


def test_the_customer_form_cannot_lift_a_suspension() -> None:
    """Finding 4: a manager set a suspended customer active in the plain form, with no trace."""
    customer = _suspended_customer()
    request = RequestFactory().post("/")
    request.user = manager()
    model_admin = admin.site._registry[Customer]
    form_class = model_admin.get_form(request, customer, change=True)
    for name in ("status", "suspended_at", "suspended_by", "suspension_reason"):
        assert name not in form_class.base_fields, name
    form = form_class(data={"email": customer.email, "name": customer.name, "status": "active",
                            "suspended_at": "", "external_id": "", "other_emails": "[]"}, instance=customer)
    if form.is_valid():
        form.save()
    customer.refresh_from_db()
    assert customer.status == Customer.Status.SUSPENDED and customer.suspended_at is not None
    assert SuspensionEvent.objects.filter(customer=customer).count() == 1


def test_the_change_page_shows_the_status_read_only_and_reinstate_is_the_way_back() -> None:
    customer = _suspended_customer()
    page = _login(manager()).get(f"/admin/billing/customer/{customer.pk}/change/")
    assert page.status_code == 200
    assert b'name="status"' not in page.content
    chargeback_services.customer_reinstate(customer=customer, actor=manager("other"), reason="Paid back")
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE and customer.suspended_at is None
    assert SuspensionEvent.objects.filter(customer=customer).count() == 2


def test_a_customer_import_never_changes_the_suspension() -> None:
    customer = _suspended_customer()
    active = invoice_with_plan().customer
    text = (f"email,name,status,identity_verified\n{customer.email},{customer.name},active,\n"
            f"{active.email},{active.name},suspended,\n")
    result = CustomerResource().import_data(tablib.Dataset().load(text, format="csv"), user=None)
    assert not result.has_errors() and not result.has_validation_errors()
    customer.refresh_from_db()
    active.refresh_from_db()
    assert customer.status == Customer.Status.SUSPENDED and customer.suspended_at is not None
    assert active.status == Customer.Status.ACTIVE and active.suspended_at is None


def test_a_new_customer_cannot_be_imported_as_suspended() -> None:
    text = "email,name,status,identity_verified\nnew@example.com,New,suspended,\n"
    result = CustomerResource().import_data(tablib.Dataset().load(text, format="csv"), user=None)
    assert result.has_validation_errors()
    assert not Customer.objects.filter(email="new@example.com").exists()


# --- decided invoices are frozen; the payout check uses the decision's snapshot -----------------


def test_a_decided_crypto_invoice_cannot_be_switched_to_card_in_the_admin() -> None:
    """Finding 4: a manager changed a decided crypto invoice to card, then finance paid it by card."""
    request = _approved(payment_method="crypto")
    invoice = request.invoice
    client = _login(manager())
    page = client.get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert page.status_code == 200 and b"is frozen" in page.content
    response = client.post(f"/admin/billing/invoice/{invoice.pk}/change/", {
        "number": invoice.number, "customer": invoice.customer_id, "issued_on": "2026-05-04", "kind": "initial",
        "payment_method": "card", "currency": "USD", "amount_paid": "100.00",
    })
    assert response.status_code == 403
    line = invoice.lines.get()
    assert client.post(f"/admin/billing/invoiceline/{line.pk}/change/", {"amount": "1.00"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.payment_method == "crypto"


def test_record_payout_checks_the_method_snapshot_not_the_live_invoice() -> None:
    request = _approved(payment_method="crypto")
    assert request.decided_payment_method == "crypto"
    # Even if the invoice changes behind the admin's back, the decision's facts hold.
    Invoice.objects.filter(pk=request.invoice_id).update(payment_method="card")
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_record_payout(request=request, actor=finance(), method=Payout.Method.CARD,
                                              reference="PSP-9", amount=Decimal("50.00"))
    assert refused.value.rule == "section_4_3.crypto_credit_only"
    assert not Payout.objects.exists()


def test_record_payout_never_exceeds_what_the_invoice_had_paid_at_the_decision() -> None:
    request = _approved()
    assert request.decided_amount_paid == Decimal("100.00")
    RefundRequest.objects.filter(pk=request.pk).update(decided_amount_paid=Decimal("30.00"))
    request.refresh_from_db()
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_record_payout(request=request, actor=finance(), method=Payout.Method.CARD,
                                              reference="PSP-9", amount=Decimal("50.00"))
    assert refused.value.rule == "payout.above_paid"


def test_imports_refuse_rows_that_change_a_frozen_invoice_or_its_lines() -> None:
    request = _approved(payment_method="crypto")
    invoice = request.invoice
    text = (f"number,customer_email,issued_on,kind,payment_method,currency,amount_paid,paid_at\n"
            f"{invoice.number},{invoice.customer.email},2026-05-04,initial,card,USD,100.00,\n")
    result = InvoiceResource().import_data(tablib.Dataset().load(text, format="csv"), user=None)
    assert result.has_validation_errors() or result.has_errors()
    invoice.refresh_from_db()
    assert invoice.payment_method == "crypto"
    lines = (f"invoice_number,line_no,category,description,amount,units,service,period_start,period_end\n"
             f"{invoice.number},2,plan,Extra,10.00,,meet,,\n")
    result = InvoiceLineResource().import_data(tablib.Dataset().load(lines, format="csv"), user=None)
    assert result.has_validation_errors() or result.has_errors()
    assert invoice.lines.count() == 1


def test_an_open_requests_invoice_can_still_be_corrected() -> None:
    request = make_request()
    invoice = request.invoice
    text = (f"number,customer_email,issued_on,kind,payment_method,currency,amount_paid,paid_at\n"
            f"{invoice.number},{invoice.customer.email},2026-05-04,initial,wallet,USD,100.00,\n")
    result = InvoiceResource().import_data(tablib.Dataset().load(text, format="csv"), user=None)
    assert not result.has_validation_errors() and not result.has_errors()
    invoice.refresh_from_db()
    assert invoice.payment_method == "wallet"


# --- verified overcharge: only while the request is open ----------------------------------------


def test_the_verified_overcharge_cannot_change_after_a_decision() -> None:
    """Finding 4: an agent set verified_overcharge on a paid request."""
    request = _approved()
    services.refund_request_record_payout(request=request, actor=finance(), method=Payout.Method.CARD,
                                          reference="PSP-1", amount=Decimal("50.00"))
    from factories import agent

    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_set_verified_overcharge(request=request, actor=agent(), amount=Decimal("5.00"))
    assert refused.value.rule == "billing_error.verified_overcharge.open_only"
    request.refresh_from_db()
    assert request.verified_overcharge is None


def test_the_verified_overcharge_can_be_set_while_open() -> None:
    from factories import agent

    request = make_request(reason="billing_error")
    services.refund_request_set_verified_overcharge(request=request, actor=agent(), amount=Decimal("5.00"))
    request.refresh_from_db()
    assert request.verified_overcharge == Decimal("5.00")
