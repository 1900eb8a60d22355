"""Sections 4.4 and 5: with no block or info code, a refundable amount of zero is a denial with
``nothing_refundable`` - a zero "partial approval" helps nobody."""

from __future__ import annotations

from decimal import Decimal

from januscaler_refunds.policy import InvoiceLine, recommend
from januscaler_refunds.policy.codes import Code

BILLING = {"request__reason": "billing_error", "request__document_count": 1}


def fee(category: str, amount: str, line_no: int) -> InvoiceLine:
    return InvoiceLine(line_no=line_no, category=category, description=category.replace("_", " "),
                       amount=Decimal(amount))


def test_a_guarantee_request_whose_lines_are_all_non_refundable_is_denied(run) -> None:
    evaluation = run(invoice__lines=(fee("setup", "100.00", 1), fee("usage_fee", "30.00", 2)))
    assert evaluation.refundable_amount == Decimal("0.00")
    assert Code.NOTHING_REFUNDABLE in evaluation.codes
    assert evaluation.recommendation == "deny"
    clause = next(c for c in evaluation.clauses if c.name == "nothing_refundable")
    assert clause.verdict == "fail" and clause.section == "4.4, 5"


def test_a_billing_error_naming_zero_is_denied_not_approved_for_zero(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("0.00"))
    assert evaluation.codes == (Code.BILLING_ERROR_NEEDS_VERIFICATION, Code.NOTHING_REFUNDABLE)
    assert evaluation.recommendation == "deny"


def test_one_cent_refundable_is_not_nothing(run) -> None:
    # Near-miss: the smallest refundable amount still goes to a (partial) approval.
    evaluation = run(**BILLING, request__requested_amount=Decimal("0.01"))
    assert Code.NOTHING_REFUNDABLE not in evaluation.codes
    assert evaluation.recommendation == "approve"


def test_a_block_decides_alone_without_nothing_refundable(run) -> None:
    evaluation = run(request__reason="other")
    assert evaluation.refundable_amount == Decimal("0.00")
    assert Code.NOTHING_REFUNDABLE not in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_missing_information_comes_before_nothing_refundable(run) -> None:
    # A billing error with no amount named refunds 0.00 for now, but the customer can still name one.
    evaluation = run(**BILLING, request__requested_amount=None)
    assert evaluation.refundable_amount == Decimal("0.00")
    assert Code.NOTHING_REFUNDABLE not in evaluation.codes
    assert evaluation.recommendation == "needs_information"


def test_a_crypto_payment_with_nothing_refundable_is_denied_not_credited(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("0.00"), invoice__payment_method="crypto")
    assert Code.NOTHING_REFUNDABLE in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_the_nothing_refundable_code_keeps_section_order(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=Decimal("0.00"))
    sections = [clause.section for clause in evaluation.clauses]
    assert sections.index("4.4, 5") < sections.index("6")


def test_recommend_alone_denies_zero_even_without_the_code() -> None:
    kwargs = {"requested": Decimal("10.00"), "amount_paid": Decimal("130.00"), "crypto": False}
    assert recommend([], refundable=Decimal("0.00"), **kwargs) == "deny"
    assert recommend([], refundable=Decimal("0.01"), **kwargs) == "approve_partially"
