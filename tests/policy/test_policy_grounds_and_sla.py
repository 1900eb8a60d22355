"""Section 1 (grounds, paid invoice, billing errors) and the SLA credit of sections 1 and 4.4."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from januscaler_refunds.policy import (
    DEFAULT_POLICY_VERSION,
    KOLKATA,
    Incident,
    PolicyParameters,
    PolicyVersion,
)
from januscaler_refunds.policy.codes import Code

# --- Grounds --------------------------------------------------------------------------------------


def test_dissatisfaction_alone_is_not_a_ground(run) -> None:
    evaluation = run(request__reason="other")
    assert Code.NOT_A_GROUND_DISSATISFACTION in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_a_real_ground_is_not_flagged_as_dissatisfaction(run) -> None:
    assert Code.NOT_A_GROUND_DISSATISFACTION not in run().codes


def test_an_invoice_with_nothing_paid_has_nothing_to_refund(run) -> None:
    evaluation = run(invoice__amount_paid=Decimal("0.00"))
    assert Code.INVOICE_NOT_PAID in evaluation.codes
    assert evaluation.refundable_amount == Decimal("0.00")


def test_a_partly_paid_invoice_is_not_unpaid_but_caps_the_refund(run) -> None:
    evaluation = run(invoice__amount_paid=Decimal("0.01"))
    assert Code.INVOICE_NOT_PAID not in evaluation.codes
    assert evaluation.refundable_amount == Decimal("0.01")


# --- Billing errors -------------------------------------------------------------------------------

BILLING = {"request__reason": "billing_error", "request__document_count": 1}


def test_an_unverified_billing_error_needs_verification(run) -> None:
    evaluation = run(**BILLING)
    assert Code.BILLING_ERROR_NEEDS_VERIFICATION in evaluation.codes
    assert Code.BILLING_ERROR_VERIFIED not in evaluation.codes


def test_once_the_overcharge_is_verified_the_note_says_verified_instead(run) -> None:
    verified = run(**BILLING, request__verified_overcharge=Decimal("10.00"))
    assert Code.BILLING_ERROR_VERIFIED in verified.codes
    assert Code.BILLING_ERROR_NEEDS_VERIFICATION not in verified.codes
    assert verified.recommendation == "approve_partially"


def test_a_verified_overcharge_of_zero_is_still_verified_and_refunds_nothing(run) -> None:
    # Near-miss: 0.00 is a recorded verification (unlike None), and it leaves nothing to refund.
    evaluation = run(**BILLING, request__verified_overcharge=Decimal("0.00"))
    assert Code.BILLING_ERROR_VERIFIED in evaluation.codes
    assert Code.BILLING_ERROR_NEEDS_VERIFICATION not in evaluation.codes
    assert Code.NOTHING_REFUNDABLE in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_a_billing_error_without_any_amount_still_needs_verification(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=None)
    assert Code.BILLING_ERROR_NEEDS_VERIFICATION in evaluation.codes
    assert Code.BILLING_ERROR_VERIFIED not in evaluation.codes


def test_a_billing_error_without_an_amount_needs_information(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=None)
    assert Code.BILLING_ERROR_AMOUNT_MISSING in evaluation.codes
    assert evaluation.refundable_amount == Decimal("0.00")
    assert evaluation.recommendation == "needs_information"


def test_a_billing_error_naming_an_amount_is_not_missing_one(run) -> None:
    assert Code.BILLING_ERROR_AMOUNT_MISSING not in run(**BILLING).codes


def test_an_agent_verified_amount_is_enough_without_a_requested_one(run) -> None:
    evaluation = run(**BILLING, request__requested_amount=None,
                     request__verified_overcharge=Decimal("40.00"))
    assert Code.BILLING_ERROR_AMOUNT_MISSING not in evaluation.codes
    assert evaluation.refundable_amount == Decimal("40.00")


# --- Service unavailability (SLA) -----------------------------------------------------------------

SLA = {"request__reason": "service_unavailability", "request__document_count": 1,
       "request__requested_amount": None}
MARCH = datetime(2026, 3, 1, tzinfo=KOLKATA)
# March 2026 has 31 days; 1% of it is 7h 26m 24s, 0.1% is 44m 38.4s, 5% is 37h 12m.
ONE_PERCENT = timedelta(days=31) / 100


def outage(length: timedelta, *, start: datetime = MARCH + timedelta(days=10), cause: str = "januscaler",
           service: str = "video") -> Incident:
    return Incident(service=service, start=start, end=start + length, cause=cause, ref="INC")


def credit(evaluation) -> Decimal:
    return next(line.allowed for line in evaluation.lines if line.category == "plan")


def test_availability_of_exactly_99_0_percent_earns_the_10_percent_band(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT)])
    assert credit(evaluation) == Decimal("10.00")
    assert Code.PARTIAL_SLA_DISRUPTION in evaluation.codes
    assert evaluation.recommendation == "approve_partially"


def test_a_second_more_downtime_than_1_percent_earns_the_25_percent_band(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT + timedelta(seconds=1))])
    assert credit(evaluation) == Decimal("25.00")


def test_availability_of_exactly_99_9_percent_earns_nothing(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT / 10)])
    assert credit(evaluation) == Decimal("0.00")
    assert Code.SLA_NO_QUALIFYING_DOWNTIME in evaluation.codes
    assert Code.PARTIAL_SLA_DISRUPTION not in evaluation.codes
    assert evaluation.recommendation == "deny"


def test_just_below_99_9_percent_earns_the_10_percent_band(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT / 10 + timedelta(seconds=1))])
    assert credit(evaluation) == Decimal("10.00")
    assert Code.SLA_NO_QUALIFYING_DOWNTIME not in evaluation.codes


def test_availability_of_exactly_95_percent_earns_25_and_below_earns_50(run) -> None:
    assert credit(run(**SLA, incidents=[outage(ONE_PERCENT * 5)])) == Decimal("25.00")
    assert credit(run(**SLA, incidents=[outage(ONE_PERCENT * 5 + timedelta(seconds=1))])) == Decimal("50.00")


def test_overlapping_incidents_are_counted_once(run) -> None:
    start = MARCH + timedelta(days=10)
    first = outage(ONE_PERCENT, start=start)
    second = outage(ONE_PERCENT / 2, start=start + timedelta(hours=1))  # inside the first
    assert credit(run(**SLA, incidents=[first, second])) == Decimal("10.00")


def test_incidents_are_clipped_to_the_service_period(run) -> None:
    # Starts a day before March: only the part inside March counts (exactly 1%).
    incident = outage(ONE_PERCENT + timedelta(days=1), start=MARCH - timedelta(days=1))
    assert credit(run(**SLA, incidents=[incident])) == Decimal("10.00")


def test_the_period_ends_at_midnight_after_its_last_day(run, plan) -> None:
    # The 31st is inside the period: an outage that evening counts.
    incident = outage(ONE_PERCENT, start=datetime(2026, 3, 31, 12, 0, tzinfo=KOLKATA))
    assert credit(run(**SLA, incidents=[incident])) == Decimal("10.00")
    # A period ending on the 30th leaves it out.
    short = plan(period_end=date(2026, 3, 30))
    assert credit(run(**SLA, incidents=[incident], invoice__lines=[short])) == Decimal("0.00")


def test_without_a_period_the_calendar_month_of_the_invoice_date_is_used(run, plan) -> None:
    undated = plan(period_start=None, period_end=None)
    assert credit(run(**SLA, invoice__lines=[undated], incidents=[outage(ONE_PERCENT)])) == Decimal("10.00")


def test_only_incidents_on_the_lines_service_count(run) -> None:
    other = outage(ONE_PERCENT * 10, service="chat")
    assert credit(run(**SLA, incidents=[other])) == Decimal("0.00")
    assert credit(run(**SLA, incidents=[outage(ONE_PERCENT, service=" Video ")])) == Decimal("10.00")


def test_an_incident_on_video_counts_for_a_line_on_video_in_any_case(run, plan) -> None:
    for line_service, incident_service in [("Video", "video"), ("VIDEO", "Video"), ("video", "ViDeO")]:
        evaluation = run(**SLA, invoice__lines=(plan(service=line_service),),
                         incidents=[outage(ONE_PERCENT, service=incident_service)])
        assert credit(evaluation) == Decimal("10.00"), (line_service, incident_service)


def test_an_incident_on_another_service_does_not_count_whatever_its_case(run, plan) -> None:
    evaluation = run(**SLA, invoice__lines=(plan(service="Video"),),
                     incidents=[outage(ONE_PERCENT * 10, service="VIDEO-EU")])
    assert credit(evaluation) == Decimal("0.00")


def test_each_plan_line_is_judged_on_its_own_service(run, plan) -> None:
    lines = [plan(), plan(line_no=2, service="chat", amount=Decimal("30.00"))]
    evaluation = run(**SLA, invoice__lines=lines, incidents=[outage(ONE_PERCENT, service="chat")])
    assert [line.allowed for line in evaluation.lines] == [Decimal("0.00"), Decimal("3.00")]
    assert evaluation.refundable_amount == Decimal("3.00")


def test_an_incident_still_going_on_counts_up_to_now(run) -> None:
    start = MARCH + timedelta(days=10)
    ongoing = Incident(service="video", start=start, end=None, cause="januscaler")
    assert credit(run(**SLA, incidents=[ongoing], now=start + ONE_PERCENT)) == Decimal("10.00")
    assert credit(run(**SLA, incidents=[ongoing], now=start + ONE_PERCENT * 5)) == Decimal("25.00")


def test_only_plan_lines_earn_an_sla_credit(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT * 10)])
    prepaid = next(line for line in evaluation.lines if line.category == "prepaid_api_credit")
    assert prepaid.allowed == Decimal("0.00") and "plan lines only" in prepaid.why
    assert evaluation.refundable_amount == Decimal("50.00")


def test_an_invoice_without_a_plan_line_has_no_qualifying_downtime(run, prepaid) -> None:
    evaluation = run(**SLA, invoice__lines=[prepaid()], invoice__amount_paid=Decimal("30.00"))
    assert Code.SLA_NO_QUALIFYING_DOWNTIME in evaluation.codes


def test_third_party_downtime_is_not_a_ground(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT * 10, cause="third_party")])
    assert {Code.SLA_NO_QUALIFYING_DOWNTIME, Code.NOT_A_GROUND_THIRD_PARTY} <= set(evaluation.codes)
    assert Code.NOT_A_GROUND_FORCE_MAJEURE not in evaluation.codes


def test_force_majeure_downtime_is_not_a_ground(run) -> None:
    evaluation = run(**SLA, incidents=[outage(ONE_PERCENT * 10, cause="force_majeure")])
    assert {Code.SLA_NO_QUALIFYING_DOWNTIME, Code.NOT_A_GROUND_FORCE_MAJEURE} <= set(evaluation.codes)
    assert Code.NOT_A_GROUND_THIRD_PARTY not in evaluation.codes


def test_other_causes_outside_the_lines_period_or_service_are_not_mentioned(run) -> None:
    elsewhere = [outage(ONE_PERCENT, cause="third_party", service="chat"),
                 outage(ONE_PERCENT, cause="force_majeure", start=MARCH - timedelta(days=5))]
    evaluation = run(**SLA, incidents=elsewhere)
    assert Code.SLA_NO_QUALIFYING_DOWNTIME in evaluation.codes
    assert not {Code.NOT_A_GROUND_THIRD_PARTY, Code.NOT_A_GROUND_FORCE_MAJEURE} & set(evaluation.codes)


def test_a_qualifying_januscaler_outage_silences_other_causes(run) -> None:
    incidents = [outage(ONE_PERCENT * 2), outage(ONE_PERCENT, cause="third_party"),
                 outage(ONE_PERCENT, cause="force_majeure", start=MARCH + timedelta(days=20))]
    evaluation = run(**SLA, incidents=incidents)
    assert Code.PARTIAL_SLA_DISRUPTION in evaluation.codes
    assert not {Code.NOT_A_GROUND_THIRD_PARTY, Code.NOT_A_GROUND_FORCE_MAJEURE,
                Code.SLA_NO_QUALIFYING_DOWNTIME} & set(evaluation.codes)
    assert credit(evaluation) == Decimal("25.00")  # third-party time does not lower availability


def test_the_sla_table_comes_from_the_policy_version(run) -> None:
    generous = PolicyVersion(
        label="generous",
        effective_date=DEFAULT_POLICY_VERSION.effective_date,
        parameters=PolicyParameters(sla_credit_table=[("99.95", 0), ("0", "1.00")]),
    )
    evaluation = run(**SLA, policy=generous, incidents=[outage(ONE_PERCENT / 10)])
    assert credit(evaluation) == Decimal("100.00")
    assert evaluation.policy_version == "generous"
