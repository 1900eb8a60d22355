"""The Refund Policy as pure Python: facts in, evaluation out.

No Django here: the policy is judged from frozen dataclasses of facts (``facts``) and ``now`` passed
in, never the clock or the database, so it can be tested and re-run exactly.

Usage::

    from januscaler_refunds.policy import BusinessCalendar, DEFAULT_POLICY_VERSION, RefundFacts, evaluate

    facts = RefundFacts(request=..., invoice=..., customer=..., policy=DEFAULT_POLICY_VERSION,
                        calendar=BusinessCalendar(company_holidays))
    evaluation = evaluate(facts, now=now)
    evaluation.to_dict()      # evaluate_request --json
    render_text(evaluation)   # the agent's checklist

Readings where the policy and policy-decisions.md leave room (each is tested):
- Good standing counts other invoices issued on or before the Kolkata date the request was received.
- "New customer": no invoice dated strictly before this one; an invoice the same day does not count.
- Reason ``other`` is measured against the 15-day window, like billing errors and SLA claims.
- A chargeback blocks (``chargeback_open``) unless its outcome is ``won``: open may still return the
  money and lost/accepted already did, so a refund would pay twice.
- An unanswered information request pauses the review clock up to and including today; pauses that
  overlap count each business day once; days on or before the received date never count.
- ``billing_error_needs_verification`` is raised on a billing-error request only while no verified
  overcharge is recorded; once an agent records one, ``billing_error_verified`` (note) instead.
- The cap is what was paid on the invoice less what other requests on the same invoice have paid out
  or credited, as recorded when the evaluation runs (``InvoiceFacts.earlier_refunds``); whenever such
  refunds exist ``cap_reduced_by_earlier_refunds`` shows it, whether or not it binds this time.
- With no block or info code, a refundable amount of zero is ``deny`` with ``nothing_refundable``.
- Service names of lines and incidents compare case-insensitively (and ignoring surrounding spaces).
- ``nonrefundable_*`` and ``partial_prorated_unused`` are raised for the money-back guarantee only:
  billing errors and SLA credits do not refund the invoice line by line.
- A plan line that names no service covers the whole Service: every incident counts against it.
  An incident with no end is still going on and counts up to ``now``.
- Usage at exactly the moment the request was received counts as consumed (proration); usage at
  23:59:59.999999 on invoice date + 7 counts towards extensive use, 00:00 the next day does not.
- The requester's address is compared case-insensitively with the invoice customer's addresses.
- Amounts in another currency than the invoice's are refused (``CurrencyMismatch``), never converted.
- ``business_days_between(a, b)`` is negative when ``b`` is before ``a`` (minus the days overdue);
  ``add_business_days(d, 0)`` is ``d``, negative ``n`` counts backwards.
"""

from .amounts import AmountBreakdown, LineAllowance, SlaLineCredit, refundable_amount
from .calendar import KOLKATA, BusinessCalendar, end_of_day, local_date, start_of_day
from .clauses import CLAUSES, ClauseResult, Verdict
from .codes import REASON_CODES, Code, CodeInfo, Effect, describe, effect_of
from .engine import (
    RECOMMENDATIONS,
    Deadline,
    DeadlineStatus,
    Evaluation,
    Recommendation,
    deadline_status,
    evaluate,
    pause_business_days,
    payout_deadline,
    recommend,
    render_text,
    review_deadline,
)
from .facts import (
    AbuseReport,
    Chargeback,
    CurrencyMismatch,
    CustomerFacts,
    Incident,
    InfoPause,
    InvoiceFacts,
    InvoiceLine,
    OtherInvoice,
    OtherRequest,
    PolicyInputError,
    RefundFacts,
    RequestFacts,
    SettledRefund,
    UsageRecord,
    Violation,
)
from .money import format_amount, minor_units, quantize
from .sla import availability_percent, service_period
from .versions import (
    DEFAULT_POLICY_VERSION,
    DEFAULT_SLA_CREDIT_TABLE,
    AnnouncementTooLate,
    NoPolicyInForce,
    PolicyParameters,
    PolicyVersion,
    check_announcement,
    select_version,
)

__all__ = [
    "AbuseReport",
    "AmountBreakdown",
    "AnnouncementTooLate",
    "BusinessCalendar",
    "CLAUSES",
    "Chargeback",
    "ClauseResult",
    "Code",
    "CodeInfo",
    "CurrencyMismatch",
    "CustomerFacts",
    "DEFAULT_POLICY_VERSION",
    "DEFAULT_SLA_CREDIT_TABLE",
    "Deadline",
    "DeadlineStatus",
    "Effect",
    "Evaluation",
    "Incident",
    "InfoPause",
    "InvoiceFacts",
    "InvoiceLine",
    "KOLKATA",
    "LineAllowance",
    "NoPolicyInForce",
    "OtherInvoice",
    "OtherRequest",
    "PolicyInputError",
    "PolicyParameters",
    "PolicyVersion",
    "REASON_CODES",
    "RECOMMENDATIONS",
    "Recommendation",
    "RefundFacts",
    "RequestFacts",
    "SettledRefund",
    "SlaLineCredit",
    "UsageRecord",
    "Verdict",
    "Violation",
    "availability_percent",
    "check_announcement",
    "deadline_status",
    "describe",
    "effect_of",
    "end_of_day",
    "evaluate",
    "format_amount",
    "local_date",
    "minor_units",
    "pause_business_days",
    "payout_deadline",
    "quantize",
    "recommend",
    "refundable_amount",
    "render_text",
    "review_deadline",
    "select_version",
    "service_period",
    "start_of_day",
]
