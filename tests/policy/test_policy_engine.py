"""The engine: every clause runs, codes accumulate, and the recommendation follows precedence."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from januscaler_refunds.policy import (
    CLAUSES,
    KOLKATA,
    RECOMMENDATIONS,
    Chargeback,
    InvoiceLine,
    NoPolicyInForce,
    PolicyInputError,
    UsageRecord,
    evaluate,
    recommend,
    render_text,
)
from januscaler_refunds.policy.codes import Code, Effect

BILLING = {"request__reason": "billing_error", "request__document_count": 1}


# --- Recommendation precedence --------------------------------------------------------------------


def test_a_block_beats_missing_information(run) -> None:
    evaluation = run(request__reason="other", request__requester_email="someone@else.example")
    assert {Code.NOT_A_GROUND_DISSATISFACTION, Code.INVOICE_CUSTOMER_MISMATCH} <= set(evaluation.codes)
    assert evaluation.recommendation == "deny"


def test_missing_information_beats_an_approval(run) -> None:
    assert run(request__requester_email="someone@else.example").recommendation == "needs_information"


def test_notes_and_adjustments_do_not_stop_an_approval(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("130.00"))
    assert evaluation.codes == (Code.BILLING_ERROR_NEEDS_VERIFICATION,)
    assert evaluation.recommendation == "approve"


def test_less_than_requested_is_a_partial_approval(run) -> None:
    assert run(**BILLING, request__verified_overcharge=Decimal("129.99")).recommendation == "approve_partially"


def test_without_a_requested_amount_the_amount_paid_is_the_benchmark() -> None:
    kwargs = {"requested": None, "amount_paid": Decimal("130.00"), "crypto": False}
    assert recommend([], refundable=Decimal("130.00"), **kwargs) == "approve"
    assert recommend([], refundable=Decimal("129.99"), **kwargs) == "approve_partially"


@pytest.mark.parametrize(
    ("verified", "expected"),
    [(Decimal("130.00"), "credit_at_discretion"), (Decimal("10.00"), "credit_at_discretion")],
    ids=["full", "partial"],
)
def test_any_crypto_approval_becomes_credit_at_discretion(run, verified: Decimal, expected: str) -> None:
    evaluation = run(**BILLING, invoice__payment_method="crypto", request__verified_overcharge=verified)
    assert evaluation.recommendation == expected


def test_a_crypto_request_that_is_denied_stays_denied(run) -> None:
    assert run(invoice__payment_method="crypto").recommendation == "deny"  # guarantee excludes crypto


def test_recommendations_are_the_public_values() -> None:
    assert RECOMMENDATIONS == ("approve", "approve_partially", "deny", "needs_information",
                               "credit_at_discretion")


# --- Every clause, every code ---------------------------------------------------------------------


def test_the_engine_raises_every_code_that_applies_not_just_the_first(run) -> None:
    evaluation = run(
        request__received_at=datetime(2026, 3, 20, 10, 0, tzinfo=KOLKATA),  # day 18
        request__requester_email="mallory@example.net",
        invoice__kind="renewal",
        invoice__payment_method="crypto",
        invoice__chargebacks=[Chargeback(ref="CB-1", received_at=datetime(2026, 3, 19, tzinfo=KOLKATA))],
        customer__status="suspended",
        customer__identity_verified=False,
    )
    assert evaluation.codes == (
        Code.MBG_NOT_INITIAL_PURCHASE,
        Code.MBG_CRYPTO_PAYMENT,
        Code.WINDOW_EXPIRED,
        Code.IDENTITY_VERIFICATION_PENDING,
        Code.INVOICE_CUSTOMER_MISMATCH,
        Code.CRYPTO_CREDIT_ONLY,
        Code.CHARGEBACK_OPEN,
        Code.ACCOUNT_SUSPENDED,
    )
    assert evaluation.recommendation == "deny"
    # Every clause, plus the engine's own nothing_refundable judgement made after them.
    assert len(evaluation.clauses) == len(CLAUSES) + 1
    assert evaluation.codes_with_effect(Effect.INFO) == (
        Code.IDENTITY_VERIFICATION_PENDING,
        Code.INVOICE_CUSTOMER_MISMATCH,
    )


def test_a_clean_guarantee_request_raises_no_code_at_all(run) -> None:
    evaluation = run()
    assert evaluation.codes == ()
    assert evaluation.recommendation == "approve"
    assert {c.verdict for c in evaluation.clauses} == {"pass", "not_applicable"}


def test_codes_are_unique_even_when_two_lines_raise_the_same_one(run, plan, prepaid) -> None:
    fees = [InvoiceLine(line_no=n, category=c, description=c, amount=Decimal("5.00"))
            for n, c in [(3, "setup"), (4, "onboarding"), (5, "payment_gateway_fee"), (6, "third_party_license")]]
    evaluation = run(invoice__lines=[plan(), prepaid(), *fees])
    assert evaluation.codes == (Code.NONREFUNDABLE_SETUP_FEES, Code.NONREFUNDABLE_THIRD_PARTY_FEES)


def test_every_clause_is_named_after_its_section_and_cites_it(run) -> None:
    for function in CLAUSES:
        assert function.__name__.startswith("section_")
        assert function.__doc__ and "Section" in function.__doc__
    for clause in run().clauses:
        assert clause.explanation.startswith(f"Section {clause.section}: ")
        assert "\n" not in clause.explanation


def test_every_clause_verdict_is_a_known_value(run) -> None:
    verdicts = {c.verdict for c in run(request__reason="other").clauses}
    assert verdicts <= {"pass", "fail", "needs_information", "not_applicable", "note"}


# --- Refusals -------------------------------------------------------------------------------------


def test_a_request_before_the_first_policy_version_is_refused_clearly(run) -> None:
    with pytest.raises(NoPolicyInForce, match="2025-01-05.*took effect on 2025-01-06"):
        run(request__received_at=datetime(2025, 1, 5, 23, 0, tzinfo=KOLKATA),
            invoice__issued_on=date(2025, 1, 1))


def test_a_request_on_the_first_day_of_the_policy_is_evaluated(run) -> None:
    evaluation = run(request__received_at=datetime(2025, 1, 6, 0, 0, tzinfo=KOLKATA),
                     invoice__issued_on=date(2025, 1, 1))
    assert evaluation.policy_version == "2025-01-06"


def test_now_must_be_time_zone_aware(facts) -> None:
    with pytest.raises(PolicyInputError, match="time-zone-aware"):
        evaluate(facts(), now=datetime(2026, 3, 5, 12, 0))


# --- Output ---------------------------------------------------------------------------------------


def test_to_dict_is_the_json_of_evaluate_request(run) -> None:
    data = json.loads(json.dumps(run(invoice__amount_paid=Decimal("120")).to_dict()))
    assert {"reference", "policy_version", "recommendation", "codes", "refundable_amount", "currency",
            "review_due", "clauses", "lines"} <= set(data)
    assert data["reference"] == "R-1"
    assert data["refundable_amount"] == "120.00"
    assert data["currency"] == "USD"
    assert data["review_due"] == "2026-03-20"
    assert data["recommendation"] == "approve_partially"
    assert set(data["clauses"][0]) >= {"section", "name", "verdict", "explanation"}
    assert data["lines"][0] == {
        "line_no": 1,
        "description": "Pro plan, March 2026",
        "category": "plan",
        "amount": "100.00",
        "allowed": "100.00",
        "why": "plan: refunded in full under the guarantee (section 2)",
        "codes": [],
    }


def test_to_dict_lists_codes_as_plain_strings(run) -> None:
    data = run(request__reason="other").to_dict()
    assert data["codes"] == ["not_a_ground_dissatisfaction"]
    assert type(data["codes"][0]) is str


def test_the_text_reads_as_a_checklist_for_the_agent(run, facts) -> None:
    received = facts().request.received_at
    text = render_text(run(
        request__requester_email="mallory@example.net",
        usage=[UsageRecord(line_no=2, at=received - timedelta(hours=1), units=1_000)],
        customer__status="suspended",
    ))
    assert "Recommendation: DENY" in text
    assert "Review due: Fri 20 Mar 2026" in text
    assert "✓ Section 2.1:" in text
    assert "✗ Section 6.1: the account is suspended  [account_suspended]" in text
    assert "? Section 4.1:" in text
    assert "27.00 USD" in text  # the prorated prepaid line
    assert "account_suspended (block, section 6.1): The account is suspended." in text
    assert "not applicable: billing_error (1)" in text
