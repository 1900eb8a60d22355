"""Sections 2.2, 4.4 and 5: the refundable amount, line by line."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from januscaler_refunds.policy import InvoiceLine, UsageRecord, evaluate
from januscaler_refunds.policy.codes import Code


def usage(units: int, at, line_no: int = 2) -> UsageRecord:
    return UsageRecord(line_no=line_no, at=at, units=units)


def line(category: str, amount: str, line_no: int = 3, **extra) -> InvoiceLine:
    return InvoiceLine(line_no=line_no, category=category, description=category.replace("_", " "),
                       amount=Decimal(amount), **extra)


def allowed(evaluation, line_no: int) -> Decimal:
    return next(item.allowed for item in evaluation.lines if item.line_no == line_no)


# --- Money-back guarantee -------------------------------------------------------------------------


def test_the_guarantee_refunds_the_plan_and_unused_credit_in_full(run) -> None:
    evaluation = run()
    assert evaluation.refundable_amount == Decimal("130.00")
    assert [(item.category, item.allowed) for item in evaluation.lines] == [
        ("plan", Decimal("100.00")),
        ("prepaid_api_credit", Decimal("30.00")),
    ]
    assert evaluation.recommendation == "approve"


def test_prepaid_credit_is_prorated_on_units_used_before_the_request(run, facts) -> None:
    received = facts().request.received_at
    evaluation = run(usage=[usage(1_500, received - timedelta(days=1)), usage(1_000, received)])
    # 30.00 * (10,000 - 2,500) / 10,000; usage at the very moment of receipt counts.
    assert allowed(evaluation, 2) == Decimal("22.50")
    assert evaluation.refundable_amount == Decimal("122.50")
    assert Code.PARTIAL_PRORATED_UNUSED in evaluation.codes
    assert evaluation.recommendation == "approve_partially"


def test_usage_after_the_request_was_received_is_ignored(run, facts) -> None:
    received = facts().request.received_at
    evaluation = run(usage=[usage(2_000, received + timedelta(seconds=1))])
    assert allowed(evaluation, 2) == Decimal("30.00")
    assert Code.PARTIAL_PRORATED_UNUSED not in evaluation.codes


def test_usage_on_another_line_does_not_reduce_the_prepaid_credit(run, facts) -> None:
    received = facts().request.received_at
    evaluation = run(usage=[usage(2_000, received - timedelta(hours=1), line_no=1)])
    assert allowed(evaluation, 2) == Decimal("30.00")


def test_credit_used_beyond_what_was_bought_refunds_nothing_and_never_goes_negative(run, facts) -> None:
    received = facts().request.received_at
    evaluation = run(usage=[usage(12_000, received - timedelta(hours=1))])
    assert allowed(evaluation, 2) == Decimal("0.00")


@pytest.mark.parametrize(
    ("category", "code"),
    [
        ("usage_fee", Code.NONREFUNDABLE_USAGE),
        ("third_party_license", Code.NONREFUNDABLE_THIRD_PARTY_FEES),
        ("payment_gateway_fee", Code.NONREFUNDABLE_THIRD_PARTY_FEES),
        ("setup", Code.NONREFUNDABLE_SETUP_FEES),
        ("onboarding", Code.NONREFUNDABLE_SETUP_FEES),
        ("custom_development", Code.NONREFUNDABLE_SETUP_FEES),
    ],
)
def test_non_refundable_lines_allow_nothing_and_raise_their_code(run, plan, prepaid, category, code) -> None:
    evaluation = run(invoice__lines=[plan(), prepaid(), line(category, "20.00")],
                     invoice__amount_paid=Decimal("150.00"))
    assert allowed(evaluation, 3) == Decimal("0.00")
    assert code in evaluation.codes
    assert evaluation.refundable_amount == Decimal("130.00")


def test_without_non_refundable_lines_no_nonrefundable_code_is_raised(run) -> None:
    codes = set(run().codes)
    assert not codes & {Code.NONREFUNDABLE_USAGE, Code.NONREFUNDABLE_THIRD_PARTY_FEES,
                        Code.NONREFUNDABLE_SETUP_FEES}


def test_an_other_line_is_refunded_in_full(run, plan, prepaid) -> None:
    evaluation = run(invoice__lines=[plan(), prepaid(), line("other", "20.00")],
                     invoice__amount_paid=Decimal("150.00"), request__requested_amount=Decimal("150.00"))
    assert allowed(evaluation, 3) == Decimal("20.00")
    assert evaluation.refundable_amount == Decimal("150.00")


def test_each_line_is_rounded_half_up_before_summing(run, plan, prepaid, facts) -> None:
    received = facts().request.received_at
    evaluation = run(
        invoice__lines=[plan(), prepaid(amount=Decimal("18.45"), units=1_000)],
        invoice__amount_paid=Decimal("118.45"),
        usage=[usage(500, received - timedelta(hours=1))],
    )
    assert allowed(evaluation, 2) == Decimal("9.23")  # 9.225 half-up, not 9.22
    assert evaluation.refundable_amount == Decimal("109.23")


def test_yen_amounts_have_no_decimals(run, plan, prepaid, facts) -> None:
    received = facts().request.received_at
    evaluation = run(
        invoice__currency="JPY",
        request__currency="JPY",
        invoice__lines=[plan(amount=Decimal("10000")), prepaid(amount=Decimal("1001"), units=1_000)],
        invoice__amount_paid=Decimal("11001"),
        request__requested_amount=Decimal("11001"),
        usage=[usage(500, received - timedelta(hours=1))],
    )
    assert str(allowed(evaluation, 2)) == "501"
    assert evaluation.to_dict()["refundable_amount"] == "10501"


def test_the_total_is_capped_at_what_was_paid(run) -> None:
    evaluation = run(invoice__amount_paid=Decimal("100.00"))
    assert evaluation.refundable_amount == Decimal("100.00")
    assert "capped at 100.00 USD paid" in evaluation.amount_explanation
    # The customer asked for 130.00 but only 100.00 can come back.
    assert evaluation.recommendation == "approve_partially"


def test_the_total_is_never_negative(run, plan) -> None:
    evaluation = run(invoice__lines=[plan(), line("other", "-150.00")])
    assert evaluation.refundable_amount == Decimal("0.00")


def test_the_refundable_amount_is_not_capped_at_the_requested_amount(run) -> None:
    evaluation = run(request__requested_amount=Decimal("50.00"))
    assert evaluation.refundable_amount == Decimal("130.00")
    assert evaluation.recommendation == "approve"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    paid=st.decimals(min_value=0, max_value=200, places=2),
    units=st.integers(min_value=0, max_value=20_000),
)
def test_the_refund_is_between_nothing_and_what_was_paid(facts, paid: Decimal, units: int) -> None:
    received = facts().request.received_at
    built = facts(invoice__amount_paid=paid, usage=[usage(units, received - timedelta(hours=1))])
    evaluation = evaluate(built, now=received)
    unused = Decimal(max(10_000 - units, 0))
    expected_credit = (Decimal("30.00") * unused / 10_000).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert allowed(evaluation, 2) == expected_credit
    assert evaluation.refundable_amount == min(Decimal("100.00") + expected_credit, paid)
    assert Decimal(0) <= evaluation.refundable_amount <= paid


# --- Billing errors -------------------------------------------------------------------------------

BILLING = {"request__reason": "billing_error", "request__document_count": 1}


def test_a_billing_error_proposes_the_requested_amount_until_verified(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("45.00"))
    assert evaluation.refundable_amount == Decimal("45.00")
    assert evaluation.lines == ()
    assert "not yet verified" in evaluation.amount_explanation


def test_a_verified_overcharge_replaces_the_requested_amount(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("45.00"),
                     request__verified_overcharge=Decimal("30.00"))
    assert evaluation.refundable_amount == Decimal("30.00")
    assert evaluation.recommendation == "approve_partially"


def test_a_billing_error_is_capped_at_what_was_paid(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("500.00"))
    assert evaluation.refundable_amount == Decimal("130.00")


def test_reason_other_refunds_nothing(run) -> None:
    evaluation = run(request__reason="other")
    assert evaluation.refundable_amount == Decimal("0.00")
    assert evaluation.lines == ()
