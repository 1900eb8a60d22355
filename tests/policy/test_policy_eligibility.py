"""Section 3: filing windows, documentation, good standing and identity verification."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from januscaler_refunds.policy import KOLKATA, OtherInvoice, Violation
from januscaler_refunds.policy.codes import Code

# The base invoice is dated Monday 2026-03-02.
BILLING = {"request__reason": "billing_error", "request__document_count": 1}


def received(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=KOLKATA)


# --- Filing windows -------------------------------------------------------------------------------


def test_day_7_is_inside_the_guarantee(run) -> None:
    evaluation = run(request__received_at=received(9, 23, 59))
    assert Code.WINDOW_EXPIRED not in evaluation.codes


def test_day_8_is_outside_the_guarantee(run) -> None:
    evaluation = run(request__received_at=received(10, 0, 0))
    assert Code.WINDOW_EXPIRED in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_the_received_date_is_taken_in_kolkata(run) -> None:
    # 18:30 UTC on the 9th is already day 8 (the 10th) in Kolkata.
    evaluation = run(request__received_at=datetime(2026, 3, 9, 18, 30, tzinfo=UTC))
    assert Code.WINDOW_EXPIRED in evaluation.codes


@pytest.mark.parametrize("reason", ["billing_error", "service_unavailability", "other"])
def test_day_15_is_inside_the_claim_window(run, reason: str) -> None:
    evaluation = run(request__reason=reason, request__document_count=1, request__received_at=received(17))
    assert Code.WINDOW_EXPIRED not in evaluation.codes


@pytest.mark.parametrize("reason", ["billing_error", "service_unavailability", "other"])
def test_day_16_is_outside_the_claim_window(run, reason: str) -> None:
    evaluation = run(request__reason=reason, request__document_count=1, request__received_at=received(18))
    assert Code.WINDOW_EXPIRED in evaluation.codes


# --- Documentation --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["billing_error", "service_unavailability"])
def test_a_claim_without_documents_needs_information_not_a_denial(run, reason: str) -> None:
    evaluation = run(request__reason=reason, request__document_count=0)
    assert Code.MISSING_DOCUMENTATION in evaluation.codes
    clause = next(c for c in evaluation.clauses if c.name == "documentation")
    assert clause.verdict == "needs_information"


def test_one_document_is_enough(run) -> None:
    assert Code.MISSING_DOCUMENTATION not in run(**BILLING).codes


def test_for_the_guarantee_the_invoice_counts_as_documentation(run) -> None:
    assert Code.MISSING_DOCUMENTATION not in run(request__document_count=0).codes


# --- Good standing --------------------------------------------------------------------------------


def other_invoice(issued_on: date, paid: str, total: str = "100.00") -> OtherInvoice:
    return OtherInvoice(number="INV-9", issued_on=issued_on, kind="renewal",
                        amount_paid=Decimal(paid), lines_total=Decimal(total))


def test_an_earlier_invoice_partly_unpaid_breaks_good_standing(run) -> None:
    evaluation = run(**BILLING, customer__other_invoices=[other_invoice(date(2026, 2, 1), "99.99")])
    assert Code.ACCOUNT_UNPAID_INVOICES in evaluation.codes


def test_fully_paid_earlier_invoices_keep_good_standing(run) -> None:
    evaluation = run(**BILLING, customer__other_invoices=[other_invoice(date(2026, 2, 1), "100.00")])
    assert Code.ACCOUNT_UNPAID_INVOICES not in evaluation.codes


def test_an_unpaid_invoice_issued_on_the_received_date_counts(run) -> None:
    # Chosen reading: "issued before the request was received" compares dates, the same day included.
    evaluation = run(**BILLING, customer__other_invoices=[other_invoice(date(2026, 3, 5), "0")])
    assert Code.ACCOUNT_UNPAID_INVOICES in evaluation.codes


def test_an_unpaid_invoice_issued_after_the_request_does_not_count(run) -> None:
    evaluation = run(**BILLING, customer__other_invoices=[other_invoice(date(2026, 3, 6), "0")])
    assert Code.ACCOUNT_UNPAID_INVOICES not in evaluation.codes


@pytest.mark.parametrize("kind", ["tos", "aup"])
def test_an_open_violation_breaks_good_standing(run, kind: str) -> None:
    violation = Violation(kind=kind, status="open", opened_on=date(2026, 2, 20))
    assert Code.ACCOUNT_VIOLATION in run(customer__violations=[violation]).codes


def test_a_resolved_violation_does_not(run) -> None:
    violation = Violation(kind="aup", status="resolved", opened_on=date(2026, 2, 20))
    assert Code.ACCOUNT_VIOLATION not in run(customer__violations=[violation]).codes


# --- Identity verification (crypto) ---------------------------------------------------------------

CRYPTO_BILLING = {**BILLING, "invoice__payment_method": "crypto"}


def test_pending_identity_verification_holds_a_crypto_request(run) -> None:
    evaluation = run(**CRYPTO_BILLING, customer__identity_verified=False)
    assert Code.IDENTITY_VERIFICATION_PENDING in evaluation.codes
    assert evaluation.recommendation == "needs_information"


@pytest.mark.parametrize("verified", [True, None], ids=["verified", "never-requested"])
def test_verified_or_never_requested_identity_does_not_hold_it(run, verified: bool | None) -> None:
    evaluation = run(**CRYPTO_BILLING, customer__identity_verified=verified)
    assert Code.IDENTITY_VERIFICATION_PENDING not in evaluation.codes


def test_pending_identity_verification_does_not_matter_for_card_payments(run) -> None:
    assert Code.IDENTITY_VERIFICATION_PENDING not in run(**BILLING, customer__identity_verified=False).codes
