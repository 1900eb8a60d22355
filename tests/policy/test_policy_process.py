"""Sections 4 and 6: duplicates, who asked, crypto credits, chargebacks and suspension."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from januscaler_refunds.policy import KOLKATA, Chargeback, OtherRequest
from januscaler_refunds.policy.codes import Code

RECEIVED = datetime(2026, 3, 5, 10, 0, tzinfo=KOLKATA)  # the base request R-1


def on_invoice(state: str, received_at: datetime, *, reference: str = "R-0", invoice: str = "INV-1",
               reason: str = "billing_error") -> OtherRequest:
    return OtherRequest(reference=reference, invoice_number=invoice, reason=reason, state=state,
                        received_at=received_at)


# --- Section 4: duplicates ------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["submitted", "under_review", "info_requested", "approved"])
def test_an_earlier_unsettled_request_on_the_invoice_makes_this_a_duplicate(run, state: str) -> None:
    earlier = on_invoice(state, RECEIVED - timedelta(days=1))
    evaluation = run(customer__refund_requests=[earlier])
    assert Code.DUPLICATE_REQUEST in evaluation.codes
    assert evaluation.recommendation == "deny"


@pytest.mark.parametrize("state", ["denied", "paid", "credited", "withdrawn"])
def test_an_earlier_settled_request_does_not(run, state: str) -> None:
    earlier = on_invoice(state, RECEIVED - timedelta(days=1))
    assert Code.DUPLICATE_REQUEST not in run(customer__refund_requests=[earlier]).codes


def test_only_the_newer_request_is_the_duplicate(run) -> None:
    later = on_invoice("submitted", RECEIVED + timedelta(minutes=1))
    assert Code.DUPLICATE_REQUEST not in run(customer__refund_requests=[later]).codes


def test_a_request_on_another_invoice_is_not_a_duplicate(run) -> None:
    elsewhere = on_invoice("submitted", RECEIVED - timedelta(days=1), invoice="INV-2")
    assert Code.DUPLICATE_REQUEST not in run(customer__refund_requests=[elsewhere]).codes


def test_requests_received_at_the_same_moment_flag_only_the_higher_reference(run) -> None:
    lower = on_invoice("submitted", RECEIVED, reference="R-0")
    higher = on_invoice("submitted", RECEIVED, reference="R-2")
    assert Code.DUPLICATE_REQUEST in run(customer__refund_requests=[lower]).codes
    assert Code.DUPLICATE_REQUEST not in run(customer__refund_requests=[higher]).codes


def test_the_request_itself_in_the_list_is_not_its_own_duplicate(run) -> None:
    itself = on_invoice("submitted", RECEIVED - timedelta(days=1), reference="R-1")
    assert Code.DUPLICATE_REQUEST not in run(customer__refund_requests=[itself]).codes


# --- Section 4.1: who asked -----------------------------------------------------------------------


def test_a_requester_who_is_not_the_invoice_customer_needs_confirmation(run) -> None:
    evaluation = run(request__requester_email="mallory@example.net")
    assert Code.INVOICE_CUSTOMER_MISMATCH in evaluation.codes
    assert evaluation.recommendation == "needs_information"


def test_the_customers_address_in_another_case_matches(run) -> None:
    assert Code.INVOICE_CUSTOMER_MISMATCH not in run(request__requester_email="Alice@Example.COM").codes


def test_any_known_address_of_the_customer_matches(run) -> None:
    evaluation = run(request__requester_email="billing@alice.example",
                     customer__emails=("alice@example.com", "billing@alice.example"))
    assert Code.INVOICE_CUSTOMER_MISMATCH not in evaluation.codes


# --- Section 4.3: crypto --------------------------------------------------------------------------

CRYPTO_BILLING = {"request__reason": "billing_error", "request__document_count": 1,
                  "invoice__payment_method": "crypto"}


def test_a_crypto_payment_is_only_ever_credited(run) -> None:
    evaluation = run(**CRYPTO_BILLING)
    assert Code.CRYPTO_CREDIT_ONLY in evaluation.codes
    assert evaluation.recommendation == "credit_at_discretion"


def test_a_card_payment_has_no_crypto_note(run) -> None:
    assert Code.CRYPTO_CREDIT_ONLY not in run().codes


# --- Section 6: chargebacks and suspension --------------------------------------------------------


@pytest.mark.parametrize("outcome", [None, "open", "lost", "accepted"])
def test_a_chargeback_not_won_blocks_the_refund(run, outcome: str | None) -> None:
    chargeback = Chargeback(ref="CB-1", received_at=RECEIVED - timedelta(days=1), outcome=outcome)
    evaluation = run(invoice__chargebacks=[chargeback])
    assert Code.CHARGEBACK_OPEN in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_a_chargeback_won_by_januscaler_does_not(run) -> None:
    chargeback = Chargeback(ref="CB-1", received_at=RECEIVED - timedelta(days=1), outcome="won")
    evaluation = run(invoice__chargebacks=[chargeback])
    assert Code.CHARGEBACK_OPEN not in evaluation.codes
    assert evaluation.recommendation == "approve"


def test_a_suspended_account_is_refused(run) -> None:
    evaluation = run(customer__status="suspended")
    assert Code.ACCOUNT_SUSPENDED in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_an_active_account_is_not(run) -> None:
    assert Code.ACCOUNT_SUSPENDED not in run(customer__status="active").codes


def test_a_suspended_account_still_shows_the_amount_it_would_get(run) -> None:
    # Every clause runs and the amount is computed regardless: a manager overriding sees it.
    assert run(customer__status="suspended", invoice__amount_paid=Decimal("130.00")).refundable_amount == Decimal("130.00")
