"""Section 6.1: a chargeback without an earlier refund request suspends the account at once."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import agent, invoice_with_plan, kolkata, make_request, manager

from januscaler_refunds.billing.models import Customer
from januscaler_refunds.chargebacks import services, signals
from januscaler_refunds.chargebacks.models import Chargeback, SuspensionEvent, WebhookEvent
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def test_a_chargeback_with_no_earlier_refund_request_suspends_the_account(record) -> None:
    invoice = invoice_with_plan()
    chargeback = record(invoice, ref="CB-77", received_at=kolkata(2026, 5, 12, 14, 30))

    customer = Customer.objects.get(pk=invoice.customer_id)
    assert customer.status == Customer.Status.SUSPENDED
    assert customer.suspended_by == "system"
    assert customer.suspended_at is not None
    assert "CB-77" in customer.suspension_reason and "section 6.1" in customer.suspension_reason
    assert chargeback.suspension == Chargeback.Suspension.SUSPENDED
    event = SuspensionEvent.objects.get(customer=customer)
    assert (event.kind, event.actor_label, event.chargeback) == ("suspended", "system", chargeback)
    assert WebhookEvent.objects.get().type == "customer.suspended"


def test_a_chargeback_after_a_refund_request_does_not_suspend(record) -> None:
    invoice = invoice_with_plan()
    request = make_request(invoice=invoice, received_at=kolkata(2026, 5, 6))
    chargeback = record(invoice, received_at=kolkata(2026, 5, 12))

    assert Customer.objects.get(pk=invoice.customer_id).status == Customer.Status.ACTIVE
    assert chargeback.suspension == Chargeback.Suspension.SPARED
    assert chargeback.prior_request == request
    assert not SuspensionEvent.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_a_request_received_after_the_chargeback_does_not_spare_the_account(record) -> None:
    invoice = invoice_with_plan()
    make_request(invoice=invoice, received_at=kolkata(2026, 5, 12, 11))
    record(invoice, received_at=kolkata(2026, 5, 12, 10))
    assert Customer.objects.get(pk=invoice.customer_id).status == Customer.Status.SUSPENDED


def test_a_request_on_another_invoice_does_not_spare_the_account(record) -> None:
    invoice = invoice_with_plan()
    other = invoice_with_plan(customer=invoice.customer)
    make_request(invoice=other, received_at=kolkata(2026, 5, 6))
    record(invoice, received_at=kolkata(2026, 5, 12))
    assert Customer.objects.get(pk=invoice.customer_id).status == Customer.Status.SUSPENDED


def test_open_requests_on_the_invoice_get_chargeback_open_and_a_deny_recommendation(record) -> None:
    invoice = invoice_with_plan()
    request = make_request(invoice=invoice, received_at=kolkata(2026, 5, 6))
    assert "chargeback_open" not in request.evaluation_codes

    record(invoice, received_at=kolkata(2026, 5, 8))
    request.refresh_from_db()
    assert "chargeback_open" in request.evaluation_codes
    assert request.recommendation == "deny"


def test_after_a_suspension_every_open_request_of_the_customer_shows_it(record) -> None:
    invoice = invoice_with_plan()
    elsewhere = make_request(invoice=invoice_with_plan(customer=invoice.customer), received_at=kolkata(2026, 5, 6))
    record(invoice, received_at=kolkata(2026, 5, 8))
    elsewhere.refresh_from_db()
    assert "account_suspended" in elsewhere.evaluation_codes
    assert "chargeback_open" not in elsewhere.evaluation_codes


def test_a_second_chargeback_on_a_suspended_account_records_that_it_already_was(record) -> None:
    invoice = invoice_with_plan()
    record(invoice, ref="CB-1")
    second = record(invoice_with_plan(customer=invoice.customer), ref="CB-2")
    assert second.suspension == Chargeback.Suspension.ALREADY_SUSPENDED
    assert SuspensionEvent.objects.count() == 1


def test_the_signal_is_sent_after_commit_with_its_documented_arguments(record, django_capture_on_commit_callbacks) -> None:
    received: list[dict] = []

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        received.append({"sender": sender, **kwargs})

    signals.customer_suspended.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            chargeback = record(invoice_with_plan())
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        signals.customer_suspended.disconnect(receiver)
    [sent] = received
    assert sent["sender"] is Customer
    assert sent["customer"].pk == chargeback.invoice.customer_id
    assert sent["chargeback"] == chargeback
    assert isinstance(sent["event"], SuspensionEvent)
    assert "section 6.1" in sent["reason"]
    assert sent["suspended_at"].tzinfo is not None


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"currency": "EUR"}, "chargeback.currency"),
        ({"amount": "0"}, "chargeback.amount"),
        ({"received_at": dt.datetime(2026, 5, 12, 10)}, "chargeback.received_at"),
    ],
)
def test_bad_chargebacks_are_refused_naming_the_rule(change: dict, rule: str, record) -> None:
    invoice = invoice_with_plan()
    from decimal import Decimal

    kwargs = {"invoice": invoice, "ref": "CB-9", "amount": Decimal("10"), "currency": invoice.currency,
              "network_reason": "", "received_at": kolkata(2026, 5, 12), "evidence_due": None,
              "fee": Decimal("0"), "actor": None}
    kwargs.update({k: Decimal(v) if k == "amount" else v for k, v in change.items()})
    with pytest.raises(TransitionRefused) as exc:
        services.chargeback_record(**kwargs)
    assert exc.value.rule == rule
    assert not Chargeback.objects.exists()


def test_the_same_ref_cannot_be_recorded_twice(record) -> None:
    invoice = invoice_with_plan()
    record(invoice, ref="CB-1")
    with pytest.raises(TransitionRefused) as exc:
        record(invoice, ref="CB-1")
    assert exc.value.rule == "chargeback.ref_exists"


# --- reinstatement ------------------------------------------------------------------------------


def test_a_manager_reinstates_with_a_reason_and_it_is_logged(record, django_capture_on_commit_callbacks) -> None:
    invoice = invoice_with_plan()
    request = make_request(invoice=invoice_with_plan(customer=invoice.customer), received_at=kolkata(2026, 5, 6))
    record(invoice)
    boss = manager()
    with django_capture_on_commit_callbacks(execute=True):
        customer = services.customer_reinstate(customer=invoice.customer, actor=boss, reason="Paid the fee; card issuer error.")

    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    assert (customer.suspended_at, customer.suspension_reason, customer.suspended_by) == (None, "", "")
    kinds = list(SuspensionEvent.objects.filter(customer=customer).values_list("kind", "actor_label", "reason"))
    assert kinds[0][:2] == ("suspended", "system")
    assert kinds[1] == ("reinstated", "manager", "Paid the fee; card issuer error.")
    request.refresh_from_db()
    assert "account_suspended" not in request.evaluation_codes
    assert set(WebhookEvent.objects.values_list("type", flat=True)) == {"customer.suspended", "customer.reinstated"}


def test_an_agent_may_not_reinstate(record) -> None:
    invoice = invoice_with_plan()
    record(invoice)
    with pytest.raises(TransitionRefused) as exc:
        services.customer_reinstate(customer=invoice.customer, actor=agent(), reason="Because.")
    assert exc.value.rule == "permission.reinstate"
    assert Customer.objects.get(pk=invoice.customer_id).status == Customer.Status.SUSPENDED


def test_reinstating_needs_a_reason_and_a_suspended_account(record) -> None:
    invoice = invoice_with_plan()
    boss = manager()
    with pytest.raises(TransitionRefused) as exc:
        services.customer_reinstate(customer=invoice.customer, actor=boss, reason="Because.")
    assert exc.value.rule == "section_6_1.not_suspended"
    record(invoice)
    with pytest.raises(TransitionRefused) as exc:
        services.customer_reinstate(customer=invoice.customer, actor=boss, reason="  ")
    assert exc.value.rule == "section_6_1.reinstate_reason"
