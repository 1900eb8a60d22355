"""The engine: facts in, evaluation out.

``evaluate`` runs every clause (it never stops at the first block), gathers the reason codes in
section order, computes the refundable amount and the review deadline, and turns the codes into a
recommendation. The deadline helpers are public so the deadline scan and the payout flow compute
dates exactly as the evaluation does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from .amounts import AmountBreakdown, LineAllowance, refundable_amount
from .calendar import KOLKATA, BusinessCalendar, end_of_day, local_date
from .clauses import CLAUSES, ClauseResult, received_date
from .codes import Code, Effect, describe, effect_of
from .facts import InfoPause, PolicyInputError, Reason, RefundFacts
from .money import format_amount, quantize
from .versions import NoPolicyInForce, PolicyParameters

Recommendation = Literal[
    "approve", "approve_partially", "deny", "needs_information", "credit_at_discretion"
]
RECOMMENDATIONS: tuple[Recommendation, ...] = (
    "approve",
    "approve_partially",
    "deny",
    "needs_information",
    "credit_at_discretion",
)
DeadlineStatus = Literal["ok", "near", "overdue"]


# --- Deadlines (sections 4.2 and 4.3) -------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    due: date
    due_at: datetime  # 23:59:59.999999 Asia/Kolkata on ``due``


def _as_local_date(value: date | datetime) -> date:
    return local_date(value) if isinstance(value, datetime) else value


def pause_business_days(
    info_pauses: Iterable[InfoPause],
    *,
    received_on: date,
    today: date,
    calendar: BusinessCalendar,
) -> int:
    """Business days the review clock stood still while waiting for the customer.

    For each pause: the business days strictly after the day information was requested up to and
    including the day the customer answered (a same-day answer adds none). A pause still waiting
    for an answer counts up to and including ``today``, so the deadline moves out day by day while
    the customer is silent. Days that two pauses share count once, and days on or before the
    received date never count.
    """
    stopped: set[date] = set()
    for pause in info_pauses:
        last = pause.answered_on if pause.answered_on is not None else today
        day = max(pause.requested_on, received_on)
        while day < last:
            day += timedelta(days=1)
            if calendar.is_business_day(day):
                stopped.add(day)
    return len(stopped)


def review_deadline(
    received_at: datetime,
    *,
    calendar: BusinessCalendar,
    parameters: PolicyParameters,
    today: date,
    info_pauses: Iterable[InfoPause] = (),
) -> Deadline:
    """Section 4.2: the end of the 10th business day after the received date, plus the business
    days the clock was paused for an information request (when the version pauses it)."""
    received_on = local_date(received_at)
    business_days = parameters.review_business_days
    if parameters.pause_review_clock_on_info_request:
        business_days += pause_business_days(
            info_pauses, received_on=received_on, today=today, calendar=calendar
        )
    due = calendar.add_business_days(received_on, business_days)
    return Deadline(due, end_of_day(due))


def payout_deadline(
    approved: date | datetime, *, calendar: BusinessCalendar, parameters: PolicyParameters
) -> Deadline:
    """Section 4.3: the end of the 10th business day after the (Kolkata) approval date."""
    due = calendar.add_business_days(_as_local_date(approved), parameters.payout_business_days)
    return Deadline(due, end_of_day(due))


def deadline_status(
    due: date, today: date, near_threshold: int = 2, *, calendar: BusinessCalendar
) -> tuple[DeadlineStatus, int]:
    """("ok" | "near" | "overdue", business days left).

    Days left are the business days strictly after ``today`` up to and including ``due`` (0 on the
    due date itself; negative, minus the business days overdue, after it). "near": at most
    ``near_threshold`` left, the due date included. "overdue": ``today`` is after the due date.
    """
    left = calendar.business_days_between(today, due)
    if today > due:
        return "overdue", left
    if left <= near_threshold:
        return "near", left
    return "ok", left


# --- Recommendation -------------------------------------------------------------------------------


def recommend(
    codes: Iterable[Code],
    *,
    refundable: Decimal,
    requested: Decimal | None,
    amount_paid: Decimal,
    crypto: bool,
) -> Recommendation:
    """Any block -> deny; else any info -> needs information; else a refundable amount of zero ->
    deny (``nothing_refundable``, see ``section_4_4_5_nothing_refundable``); else a refundable
    amount below the requested amount (or, when none was named, below the amount paid) -> approve
    partially; else approve. For crypto payments an approval of either kind becomes credit at
    discretion (4.3)."""
    effects = {effect_of(code) for code in codes}
    if Effect.BLOCK in effects:
        return "deny"
    if Effect.INFO in effects:
        return "needs_information"
    if refundable <= 0:
        return "deny"
    benchmark = requested if requested is not None else amount_paid
    recommendation: Recommendation = "approve_partially" if refundable < benchmark else "approve"
    return "credit_at_discretion" if crypto else recommendation


def section_4_4_5_nothing_refundable(
    codes: Iterable[Code], *, breakdown: AmountBreakdown, currency: str
) -> ClauseResult:
    """Sections 4.4 and 5: when nothing blocks and nothing is missing but the refundable amount is
    zero (every line non-refundable, a billing error of 0.00, an invoice already refunded in full),
    the request is denied with ``nothing_refundable``: a zero "partial approval" helps nobody.

    It judges the other clauses' codes, so the engine runs it after them.
    """
    section, name = "4.4, 5", "nothing_refundable"
    effects = {effect_of(code) for code in codes}
    if Effect.BLOCK in effects or Effect.INFO in effects:
        return ClauseResult(section, name, "not_applicable",
                            f"Section {section}: another clause already decides the request")
    if breakdown.refundable > 0:
        return ClauseResult(section, name, "pass",
                            f"Section {section}: {format_amount(breakdown.refundable, currency)} is refundable")
    return ClauseResult(
        section, name, "fail",
        f"Section {section}: nothing is refundable ({breakdown.explanation})",
        (Code.NOTHING_REFUNDABLE,),
    )


# --- Evaluation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    reference: str
    invoice_number: str
    reason: Reason
    policy_version: str
    recommendation: Recommendation
    codes: tuple[Code, ...]
    refundable_amount: Decimal
    currency: str
    requested_amount: Decimal | None
    amount_paid: Decimal
    amount_explanation: str
    review_due: date
    review_due_at: datetime
    clauses: tuple[ClauseResult, ...]
    lines: tuple[LineAllowance, ...]
    evaluated_at: datetime
    # The arithmetic behind refundable_amount: allowances_total capped at refund_cap, which is
    # amount_paid less earlier_refunded (what earlier requests on the invoice paid out or credited).
    allowances_total: Decimal = Decimal(0)
    earlier_refunded: Decimal = Decimal(0)
    refund_cap: Decimal = Decimal(0)

    def codes_with_effect(self, effect: Effect) -> tuple[Code, ...]:
        return tuple(code for code in self.codes if effect_of(code) == effect)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``evaluate_request --json``); amounts are decimal strings."""
        return {
            "reference": self.reference,
            "invoice_number": self.invoice_number,
            "reason": self.reason,
            "policy_version": self.policy_version,
            "recommendation": self.recommendation,
            "codes": [str(code) for code in self.codes],
            "refundable_amount": str(self.refundable_amount),
            "currency": self.currency,
            "requested_amount": None if self.requested_amount is None else str(self.requested_amount),
            "amount_paid": str(self.amount_paid),
            "amount_explanation": self.amount_explanation,
            "allowances_total": str(self.allowances_total),
            "earlier_refunded": str(self.earlier_refunded),
            "refund_cap": str(self.refund_cap),
            "review_due": self.review_due.isoformat(),
            "review_due_at": self.review_due_at.isoformat(),
            "evaluated_at": self.evaluated_at.isoformat(),
            "clauses": [
                {
                    "section": clause.section,
                    "name": clause.name,
                    "verdict": clause.verdict,
                    "explanation": clause.explanation,
                    "codes": [str(code) for code in clause.codes],
                }
                for clause in self.clauses
            ],
            "lines": [
                {
                    "line_no": line.line_no,
                    "description": line.description,
                    "category": line.category,
                    "amount": str(line.amount),
                    "allowed": str(line.allowed),
                    "why": line.why,
                    "codes": [str(code) for code in line.codes],
                }
                for line in self.lines
            ],
        }


def evaluate(facts: RefundFacts, *, now: datetime) -> Evaluation:
    """Evaluate a refund request under the policy version it carries, as the facts stand at ``now``.

    Raises ``CurrencyMismatch`` for amounts in another currency than the invoice's and
    ``NoPolicyInForce`` when the request predates the version it is evaluated under.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise PolicyInputError(f"now must be a time-zone-aware datetime, got {now!r}")
    received_on = received_date(facts)
    policy = facts.policy
    if received_on < policy.effective_date:
        raise NoPolicyInForce(
            f"request {facts.request.reference} was received on {received_on}, before policy "
            f"version {policy.label} took effect on {policy.effective_date}"
        )
    # First, because it refuses mixed currencies before any clause formats an amount.
    breakdown = refundable_amount(facts, now=now)

    results = [clause(facts, now=now) for clause in CLAUSES]
    judged = [code for result in results for code in result.codes]
    outcome = section_4_4_5_nothing_refundable(judged, breakdown=breakdown, currency=facts.invoice.currency)
    # Placed before section 6 so the checklist and the codes stay in section order.
    at = next((i for i, result in enumerate(results) if result.section.startswith("6")), len(results))
    results.insert(at, outcome)
    clauses = tuple(results)
    codes: list[Code] = []
    for result in clauses:
        codes.extend(code for code in result.codes if code not in codes)

    invoice = facts.invoice
    requested = facts.request.requested_amount
    requested = None if requested is None else quantize(requested, invoice.currency)
    amount_paid = quantize(invoice.amount_paid, invoice.currency)
    deadline = review_deadline(
        facts.request.received_at,
        calendar=facts.calendar,
        parameters=policy.parameters,
        today=local_date(now),
        info_pauses=facts.request.info_pauses,
    )
    return Evaluation(
        reference=facts.request.reference,
        invoice_number=invoice.number,
        reason=facts.request.reason,
        policy_version=policy.label,
        recommendation=recommend(
            codes,
            refundable=breakdown.refundable,
            requested=requested,
            amount_paid=amount_paid,
            crypto=invoice.payment_method == "crypto",
        ),
        codes=tuple(codes),
        refundable_amount=breakdown.refundable,
        currency=invoice.currency,
        requested_amount=requested,
        amount_paid=amount_paid,
        amount_explanation=breakdown.explanation,
        review_due=deadline.due,
        review_due_at=deadline.due_at,
        clauses=clauses,
        lines=breakdown.lines,
        evaluated_at=now.astimezone(KOLKATA),
        allowances_total=breakdown.subtotal,
        earlier_refunded=breakdown.earlier_refunded,
        refund_cap=breakdown.cap,
    )


# --- For people -----------------------------------------------------------------------------------

_MARKS = {"pass": "✓", "fail": "✗", "needs_information": "?", "note": "•"}
_RECOMMENDATION_WORDS: dict[str, str] = {
    "approve": "APPROVE",
    "approve_partially": "APPROVE PARTIALLY",
    "deny": "DENY",
    "needs_information": "NEEDS INFORMATION",
    "credit_at_discretion": "CREDIT AT DISCRETION (no refund to the crypto payment method)",
}


def render_text(evaluation: Evaluation) -> str:
    """A checklist a billing agent can read top to bottom: ✓ passed, ✗ failed, ? needs information,
    • note; then the codes in plain words, the line breakdown, and the deadline."""
    ev = evaluation

    def money(amount: Decimal) -> str:
        return format_amount(amount, ev.currency)

    out = [
        f"Refund request {ev.reference} · invoice {ev.invoice_number} · "
        f"{ev.reason.replace('_', ' ')} · policy {ev.policy_version}",
        f"Recommendation: {_RECOMMENDATION_WORDS[ev.recommendation]}",
        f"Refundable: {money(ev.refundable_amount)} ({ev.amount_explanation})",
        "Requested: " + (money(ev.requested_amount) if ev.requested_amount is not None else "no amount named")
        + f" · paid on the invoice: {money(ev.amount_paid)}"
        + (f" · already refunded on earlier requests: {money(ev.earlier_refunded)}" if ev.earlier_refunded else ""),
        f"Review due: {ev.review_due:%a %d %b %Y}, end of day (Asia/Kolkata)",
        "",
        "Checklist",
    ]
    not_applicable = []
    for clause in ev.clauses:
        if clause.verdict == "not_applicable":
            not_applicable.append(f"{clause.name} ({clause.section})")
            continue
        codes = f"  [{', '.join(clause.codes)}]" if clause.codes else ""
        out.append(f"  {_MARKS[clause.verdict]} {clause.explanation}{codes}")
    if not_applicable:
        out.append(f"  – not applicable: {', '.join(not_applicable)}")

    if ev.codes:
        out += ["", "Reason codes"]
        for code in ev.codes:
            info = describe(code)
            out.append(f"  {code} ({info.effect}, section {info.section}): {info.description}")

    if ev.lines:
        out += ["", "Lines"]
        width = max(len(money(line.amount)) for line in ev.lines)
        for line in ev.lines:
            out.append(
                f"  {line.line_no:>3}. {line.description} [{line.category}]: "
                f"{money(line.amount):>{width}} -> {money(line.allowed):>{width}}  {line.why}"
            )
    return "\n".join(out) + "\n"
