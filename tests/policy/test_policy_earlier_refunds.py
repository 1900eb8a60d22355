"""Sections 4.4 and 5: the cap is what was paid on the invoice less what earlier requests on the same
invoice already paid out or credited; ``cap_reduced_by_earlier_refunds`` shows it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from januscaler_refunds.policy import KOLKATA, CurrencyMismatch, PolicyInputError, SettledRefund
from januscaler_refunds.policy.codes import Code

RECEIVED = datetime(2026, 3, 5, 10, 0, tzinfo=KOLKATA)  # the base request's (conftest)

BILLING = {"request__reason": "billing_error", "request__document_count": 1}


def settled(amount: str, reference: str = "R-0", kind: str = "payout", **extra) -> SettledRefund:
    return SettledRefund(reference=reference, kind=kind, amount=Decimal(amount),  # type: ignore[arg-type]
                         settled_at=RECEIVED - timedelta(days=1), **extra)


def test_a_money_back_request_after_a_billing_error_refund_returns_only_the_rest(run) -> None:
    # The case: 10.00 refunded for a billing error, then the guarantee on a 130.00 invoice.
    evaluation = run(invoice__earlier_refunds=(settled("10.00"),))
    assert evaluation.refundable_amount == Decimal("120.00")
    assert evaluation.refund_cap == Decimal("120.00")
    assert evaluation.earlier_refunded == Decimal("10.00")
    assert Code.CAP_REDUCED_BY_EARLIER_REFUNDS in evaluation.codes
    assert evaluation.recommendation == "approve_partially"
    assert "10.00 USD already refunded on earlier requests" in evaluation.amount_explanation


def test_payouts_and_credits_both_count(run) -> None:
    evaluation = run(invoice__earlier_refunds=(settled("10.00"), settled("20.00", "R-2", kind="credit")))
    assert evaluation.refundable_amount == Decimal("100.00")
    clause = next(c for c in evaluation.clauses if c.name == "earlier_refunds")
    assert "R-0 payout 10.00 USD" in clause.explanation and "R-2 credit 20.00 USD" in clause.explanation


def test_an_earlier_refund_equal_to_what_was_paid_leaves_nothing_and_denies(run) -> None:
    evaluation = run(invoice__earlier_refunds=(settled("130.00"),))
    assert evaluation.refundable_amount == Decimal("0.00")
    assert {Code.CAP_REDUCED_BY_EARLIER_REFUNDS, Code.NOTHING_REFUNDABLE} <= set(evaluation.codes)
    assert evaluation.recommendation == "deny"


def test_one_cent_less_than_paid_leaves_one_cent(run) -> None:
    evaluation = run(invoice__earlier_refunds=(settled("129.99"),))
    assert evaluation.refundable_amount == Decimal("0.01")
    assert Code.NOTHING_REFUNDABLE not in evaluation.codes
    assert evaluation.recommendation == "approve_partially"


def test_earlier_refunds_above_what_was_paid_never_make_the_cap_negative(run) -> None:
    evaluation = run(invoice__earlier_refunds=(settled("100.00"), settled("50.00", "R-2")))
    assert evaluation.refund_cap == Decimal("0.00")
    assert evaluation.refundable_amount == Decimal("0.00")


def test_a_partly_refunded_invoice_still_allows_a_billing_error_within_the_rest(run) -> None:
    # The code shows the cap was lowered even when this request stays under it.
    evaluation = run(**BILLING, request__requested_amount=Decimal("30.00"),
                     invoice__earlier_refunds=(settled("50.00"),))
    assert evaluation.refundable_amount == Decimal("30.00")
    assert evaluation.refund_cap == Decimal("80.00")
    assert Code.CAP_REDUCED_BY_EARLIER_REFUNDS in evaluation.codes
    assert evaluation.recommendation == "approve"
    assert "capped" not in evaluation.amount_explanation


def test_a_billing_error_above_the_rest_is_capped_at_the_rest(run) -> None:
    evaluation = run(**BILLING, request__verified_overcharge=Decimal("90.00"),
                     invoice__earlier_refunds=(settled("50.00"),))
    assert evaluation.refundable_amount == Decimal("80.00")


def test_without_earlier_refunds_the_cap_is_the_amount_paid_and_no_code_shows(run) -> None:
    evaluation = run()
    assert evaluation.refund_cap == Decimal("130.00")
    assert evaluation.earlier_refunded == Decimal("0.00")
    assert Code.CAP_REDUCED_BY_EARLIER_REFUNDS not in evaluation.codes
    clause = next(c for c in evaluation.clauses if c.name == "earlier_refunds")
    assert clause.verdict == "not_applicable"


def test_the_requests_own_settlement_never_lowers_its_own_cap(run) -> None:
    evaluation = run(invoice__earlier_refunds=(settled("130.00", reference="R-1"),))
    assert evaluation.refundable_amount == Decimal("130.00")
    assert Code.CAP_REDUCED_BY_EARLIER_REFUNDS not in evaluation.codes


def test_a_partly_paid_invoice_and_an_earlier_refund_both_lower_the_cap(run) -> None:
    evaluation = run(invoice__amount_paid=Decimal("100.00"), invoice__earlier_refunds=(settled("40.00"),))
    assert evaluation.refundable_amount == Decimal("60.00")


def test_jpy_earlier_refunds_keep_whole_yen(run, plan, prepaid) -> None:
    evaluation = run(
        request__currency="JPY", request__requested_amount=Decimal("13000"),
        invoice__currency="JPY", invoice__amount_paid=Decimal("13000"),
        invoice__lines=(plan(amount=Decimal("10000")), prepaid(amount=Decimal("3000"))),
        invoice__earlier_refunds=(settled("1000", currency="JPY"),),
    )
    assert evaluation.refundable_amount == Decimal("12000")
    assert str(evaluation.to_dict()["refund_cap"]) == "12000"


def test_an_earlier_refund_in_another_currency_is_refused(run) -> None:
    with pytest.raises(CurrencyMismatch):
        run(invoice__earlier_refunds=(settled("10.00", currency="EUR"),))


def test_a_negative_or_float_earlier_refund_is_refused() -> None:
    with pytest.raises(PolicyInputError):
        settled("-1.00")
    with pytest.raises(PolicyInputError):
        SettledRefund(reference="R-0", kind="payout", amount=10.0, settled_at=RECEIVED)  # type: ignore[arg-type]
    with pytest.raises(PolicyInputError):
        SettledRefund(reference="R-0", kind="refund", amount=Decimal(1), settled_at=RECEIVED)  # type: ignore[arg-type]


def test_the_json_carries_the_cap_arithmetic(run) -> None:
    data = run(invoice__earlier_refunds=(settled("10.00"),)).to_dict()
    assert (data["allowances_total"], data["earlier_refunded"], data["refund_cap"], data["refundable_amount"]) == (
        "130.00", "10.00", "120.00", "120.00")
    assert "cap_reduced_by_earlier_refunds" in data["codes"]
