"""Section 2: the 7-day money-back guarantee - eligibility (2.1) and exclusions (2.2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from januscaler_refunds.policy import (
    KOLKATA,
    AbuseReport,
    OtherInvoice,
    OtherRequest,
    UsageRecord,
)
from januscaler_refunds.policy.codes import Code

# The base invoice is dated 2026-03-02, so "the 7-day period" ends at the end of 2026-03-09.
LAST_MOMENT_OF_DAY_7 = datetime(2026, 3, 9, 23, 59, 59, 999999, tzinfo=KOLKATA)
FIRST_MOMENT_OF_DAY_8 = datetime(2026, 3, 10, 0, 0, tzinfo=KOLKATA)


def earlier_invoice(issued_on: date) -> OtherInvoice:
    return OtherInvoice(number="INV-0", issued_on=issued_on, kind="initial",
                        amount_paid=Decimal("50.00"), lines_total=Decimal("50.00"))


def guarantee_request(state: str, *, reason: str = "money_back_guarantee", reference: str = "R-0") -> OtherRequest:
    return OtherRequest(reference=reference, invoice_number="INV-0", reason=reason, state=state,
                        received_at=datetime(2025, 6, 1, 10, 0, tzinfo=KOLKATA))


# --- 2.1 Eligibility ------------------------------------------------------------------------------


def test_a_customer_invoiced_before_is_not_new(run) -> None:
    evaluation = run(customer__other_invoices=[earlier_invoice(date(2026, 3, 1))])
    assert Code.MBG_NOT_NEW_CUSTOMER in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_an_invoice_the_same_day_or_later_does_not_make_the_customer_old(run) -> None:
    same_day = run(customer__other_invoices=[earlier_invoice(date(2026, 3, 2))])
    later = run(customer__other_invoices=[earlier_invoice(date(2026, 3, 3))])
    assert Code.MBG_NOT_NEW_CUSTOMER not in same_day.codes
    assert Code.MBG_NOT_NEW_CUSTOMER not in later.codes


def test_the_invoice_itself_in_the_customers_list_is_not_an_earlier_one(run) -> None:
    itself = OtherInvoice(number="INV-1", issued_on=date(2026, 3, 2), kind="initial",
                          amount_paid=Decimal("130.00"), lines_total=Decimal("130.00"))
    assert Code.MBG_NOT_NEW_CUSTOMER not in run(customer__other_invoices=[itself]).codes


@pytest.mark.parametrize("kind", ["renewal", "later_order"])
def test_renewals_and_later_orders_are_not_the_initial_purchase(run, kind: str) -> None:
    assert Code.MBG_NOT_INITIAL_PURCHASE in run(invoice__kind=kind).codes


def test_the_initial_purchase_is_covered(run) -> None:
    assert Code.MBG_NOT_INITIAL_PURCHASE not in run(invoice__kind="initial").codes


@pytest.mark.parametrize("state", ["approved", "paid", "credited"])
def test_a_guarantee_granted_before_is_used_up(run, state: str) -> None:
    assert Code.MBG_ALREADY_USED in run(customer__refund_requests=[guarantee_request(state)]).codes


@pytest.mark.parametrize("state", ["denied", "withdrawn", "submitted", "under_review"])
def test_a_guarantee_request_never_granted_does_not_use_it_up(run, state: str) -> None:
    assert Code.MBG_ALREADY_USED not in run(customer__refund_requests=[guarantee_request(state)]).codes


def test_a_granted_refund_for_another_reason_does_not_use_up_the_guarantee(run) -> None:
    other = guarantee_request("paid", reason="billing_error")
    assert Code.MBG_ALREADY_USED not in run(customer__refund_requests=[other]).codes


def test_the_request_itself_does_not_use_up_its_own_guarantee(run) -> None:
    itself = guarantee_request("approved", reference="R-1")
    assert Code.MBG_ALREADY_USED not in run(customer__refund_requests=[itself]).codes


def test_guarantee_rules_do_not_apply_to_other_reasons(run) -> None:
    evaluation = run(request__reason="billing_error", request__document_count=1,
                     invoice__kind="renewal", invoice__payment_method="crypto",
                     customer__other_invoices=[earlier_invoice(date(2026, 1, 1))])
    assert not [code for code in evaluation.codes if code.startswith("mbg_")]


# --- 2.2 Exclusions -------------------------------------------------------------------------------


def test_a_crypto_payment_is_excluded_from_the_guarantee(run) -> None:
    evaluation = run(invoice__payment_method="crypto")
    assert Code.MBG_CRYPTO_PAYMENT in evaluation.codes
    assert evaluation.recommendation == "deny"


@pytest.mark.parametrize("method", ["card", "bank_transfer", "wallet", "other"])
def test_other_payment_methods_are_covered(run, method: str) -> None:
    assert Code.MBG_CRYPTO_PAYMENT not in run(invoice__payment_method=method).codes


def used(units: int, at: datetime, line_no: int = 2) -> UsageRecord:
    return UsageRecord(line_no=line_no, at=at, units=units)


def test_exactly_25_percent_used_is_not_extensive(run) -> None:
    evaluation = run(usage=[used(2_500, datetime(2026, 3, 4, 12, 0, tzinfo=KOLKATA))])
    assert Code.MBG_EXTENSIVE_USE not in evaluation.codes


def test_one_unit_above_25_percent_is_extensive(run) -> None:
    evaluation = run(usage=[used(2_501, datetime(2026, 3, 4, 12, 0, tzinfo=KOLKATA))])
    assert Code.MBG_EXTENSIVE_USE in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_use_at_the_last_moment_of_day_7_counts_towards_extensive_use(run) -> None:
    usage = [used(2_500, datetime(2026, 3, 2, 0, 0, tzinfo=KOLKATA)), used(1, LAST_MOMENT_OF_DAY_7)]
    assert Code.MBG_EXTENSIVE_USE in run(usage=usage, now=FIRST_MOMENT_OF_DAY_8).codes


def test_use_from_day_8_does_not_count_towards_extensive_use(run) -> None:
    usage = [used(2_500, datetime(2026, 3, 2, 0, 0, tzinfo=KOLKATA)), used(5_000, FIRST_MOMENT_OF_DAY_8)]
    assert Code.MBG_EXTENSIVE_USE not in run(usage=usage, now=FIRST_MOMENT_OF_DAY_8).codes


def test_use_after_the_request_but_within_7_days_still_counts(run) -> None:
    # Received on the 5th; heavy use on the 7th still voids the guarantee when known.
    usage = [used(3_000, datetime(2026, 3, 7, 9, 0, tzinfo=KOLKATA))]
    assert Code.MBG_EXTENSIVE_USE in run(usage=usage, now=FIRST_MOMENT_OF_DAY_8).codes


def test_extensive_use_is_weighed_over_all_prepaid_lines_together(run, plan, prepaid) -> None:
    lines = [plan(), prepaid(), prepaid(line_no=3)]  # 20,000 units bought in all
    at = datetime(2026, 3, 3, 9, 0, tzinfo=KOLKATA)
    paid = {"invoice__lines": lines, "invoice__amount_paid": Decimal("160.00")}
    assert Code.MBG_EXTENSIVE_USE not in run(**paid, usage=[used(5_000, at)]).codes
    assert Code.MBG_EXTENSIVE_USE in run(**paid, usage=[used(5_001, at)]).codes


def test_the_extensive_use_ratio_is_a_version_parameter(run, facts) -> None:
    base = facts()
    strict = replace(base.policy, parameters=replace(base.policy.parameters, extensive_use_ratio=Decimal("0.10")))
    evaluation = run(policy=strict, usage=[used(1_001, datetime(2026, 3, 4, 12, 0, tzinfo=KOLKATA))])
    assert Code.MBG_EXTENSIVE_USE in evaluation.codes


def report(at: datetime) -> AbuseReport:
    return AbuseReport(received_at=at, ref="AB-1")


def test_an_abuse_report_at_23_59_of_day_7_voids_the_guarantee_even_after_the_request(run) -> None:
    at = datetime(2026, 3, 9, 23, 59, tzinfo=KOLKATA)
    evaluation = run(customer__abuse_reports=[report(at)], now=at + timedelta(hours=1))
    assert Code.MBG_ABUSE_REPORT in evaluation.codes


def test_an_abuse_report_at_00_00_of_day_8_does_not(run) -> None:
    evaluation = run(customer__abuse_reports=[report(FIRST_MOMENT_OF_DAY_8)])
    assert Code.MBG_ABUSE_REPORT not in evaluation.codes


def test_the_abuse_window_is_measured_in_kolkata_time(run) -> None:
    # 18:29 UTC on the 9th is 23:59 in Kolkata (inside); 18:30 UTC is 00:00 on the 10th (outside).
    inside = report(datetime(2026, 3, 9, 18, 29, tzinfo=UTC))
    outside = report(datetime(2026, 3, 9, 18, 30, tzinfo=UTC))
    assert Code.MBG_ABUSE_REPORT in run(customer__abuse_reports=[inside]).codes
    assert Code.MBG_ABUSE_REPORT not in run(customer__abuse_reports=[outside]).codes


def test_an_abuse_report_from_the_first_moment_of_the_invoice_date_counts(run) -> None:
    start = datetime(2026, 3, 2, 0, 0, tzinfo=KOLKATA)
    assert Code.MBG_ABUSE_REPORT in run(customer__abuse_reports=[report(start)]).codes
    before = report(start - timedelta(microseconds=1))
    assert Code.MBG_ABUSE_REPORT not in run(customer__abuse_reports=[before]).codes
