"""How much is refundable, line by line (sections 2.2, 4.4 and 5).

Each line's allowance is rounded half-up to the currency's minor unit, the allowances are summed, and
the total is capped at what was paid on the invoice less what earlier requests on the same invoice
already paid out or credited (a discount is not shared out over lines; a request never returns more
than the invoice took in) and never negative. It is not capped at the requested amount: the
recommendation compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from .calendar import KOLKATA
from .codes import Code
from .facts import InvoiceLine, LineCategory, RefundFacts, UsageRecord
from .money import ensure_currency, format_amount, quantize, zero
from .sla import Interval, availability_percent, downtime, service_period


@dataclass(frozen=True)
class LineAllowance:
    """What one invoice line allows back, and why."""

    line_no: int
    description: str
    category: LineCategory
    amount: Decimal
    allowed: Decimal
    why: str
    codes: tuple[Code, ...] = ()


@dataclass(frozen=True)
class SlaLineCredit:
    """The SLA credit of one plan line, with the downtime the engine needs to explain it."""

    line: InvoiceLine
    period: Interval
    availability: Decimal  # percent, exact
    share: Decimal
    credit: Decimal
    third_party_downtime: timedelta
    force_majeure_downtime: timedelta


@dataclass(frozen=True)
class AmountBreakdown:
    """The arithmetic: ``subtotal`` (what the reason allows) capped at ``cap`` (``paid`` less
    ``earlier_refunded``) gives ``refundable``."""

    lines: tuple[LineAllowance, ...]
    refundable: Decimal
    explanation: str
    subtotal: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    earlier_refunded: Decimal = Decimal(0)
    cap: Decimal = Decimal(0)


def check_currencies(facts: RefundFacts) -> None:
    """Refuse amounts in another currency than the invoice's (raises ``CurrencyMismatch``)."""
    invoice = facts.invoice
    ensure_currency(
        facts.request.currency, invoice.currency, what=f"the amount requested in {facts.request.reference}"
    )
    for line in invoice.lines:
        ensure_currency(line.currency, invoice.currency, what=f"invoice {invoice.number} line {line.line_no}")
    for earlier in invoice.earlier_refunds:
        ensure_currency(earlier.currency, invoice.currency, what=f"the {earlier.kind} of request {earlier.reference}")


def earlier_refunded(facts: RefundFacts) -> Decimal:
    """Sections 4.4 and 5: what other requests on this invoice already paid out or credited.

    The request being evaluated is skipped by reference, so its own settlement never lowers its cap.
    """
    own = facts.request.reference
    return sum(
        (earlier.amount for earlier in facts.invoice.earlier_refunds if earlier.reference != own),
        Decimal(0),
    )


def refund_cap(facts: RefundFacts) -> Decimal:
    """The most a request can still return: paid on the invoice less earlier refunds, never below 0."""
    paid = max(facts.invoice.amount_paid, Decimal(0))
    return max(paid - earlier_refunded(facts), Decimal(0))


def units_consumed(
    usage: Iterable[UsageRecord],
    line_no: int,
    *,
    until: datetime,
    since: datetime | None = None,
) -> Decimal:
    """Units used on a line between ``since`` and ``until``, both moments included."""
    return sum(
        (
            Decimal(record.units)
            for record in usage
            if record.line_no == line_no
            and record.at <= until
            and (since is None or record.at >= since)
        ),
        Decimal(0),
    )


# Section 5 (and 2.2 for licences): lines the guarantee never gives back.
_NONREFUNDABLE: dict[str, tuple[Code, str]] = {
    "usage_fee": (Code.NONREFUNDABLE_USAGE, "usage-based fees already consumed are not refundable (sections 1, 5)"),
    "third_party_license": (Code.NONREFUNDABLE_THIRD_PARTY_FEES, "third-party software licence fees are not refundable (sections 2.2, 5)"),
    "payment_gateway_fee": (Code.NONREFUNDABLE_THIRD_PARTY_FEES, "payment gateway charges are third-party fees, not refundable (section 5)"),
    "setup": (Code.NONREFUNDABLE_SETUP_FEES, "setup fees are not refundable (section 5)"),
    "onboarding": (Code.NONREFUNDABLE_SETUP_FEES, "onboarding charges are not refundable (section 5)"),
    "custom_development": (Code.NONREFUNDABLE_SETUP_FEES, "custom development work is not refundable (section 5)"),
}


def mbg_line_allowances(facts: RefundFacts) -> tuple[LineAllowance, ...]:
    """Section 2 with 4.4 and 5: what each line gives back under the money-back guarantee."""
    currency = facts.invoice.currency
    received_at = facts.request.received_at
    allowances = []
    for line in facts.invoice.lines:
        amount = quantize(line.amount, currency)
        codes: tuple[Code, ...] = ()
        if line.category in _NONREFUNDABLE:
            code, why = _NONREFUNDABLE[line.category]
            allowed, codes = zero(currency), (code,)
        elif line.category == "prepaid_api_credit":
            assert line.units  # InvoiceLine refuses prepaid lines without units
            bought = Decimal(line.units)
            # Usage after the request was received is the customer's own later choice, not part of
            # what they asked to have back.
            used = min(units_consumed(facts.usage, line.line_no, until=received_at), bought)
            allowed = quantize(line.amount * (bought - used) / bought, currency)
            stamp = received_at.astimezone(KOLKATA).strftime("%Y-%m-%d %H:%M")
            if used:
                codes = (Code.PARTIAL_PRORATED_UNUSED,)
                why = (f"prepaid API credit: {used:,} of {bought:,} units used by {stamp}; the "
                       f"unused {bought - used:,} are refunded pro rata (section 4.4)")
            else:
                why = f"prepaid API credit: no units used by {stamp}; refunded in full (section 2)"
        elif line.category == "plan":
            allowed, why = amount, "plan: refunded in full under the guarantee (section 2)"
        else:
            allowed, why = amount, "other charge: refunded in full under the guarantee (section 2)"
        allowances.append(
            LineAllowance(line.line_no, line.description, line.category, amount, allowed, why, codes)
        )
    return tuple(allowances)


def sla_line_credits(facts: RefundFacts, *, now: datetime) -> tuple[SlaLineCredit, ...]:
    """Section 4.4: the SLA credit of each plan line, from its own service and period."""
    credits = []
    for line in facts.invoice.lines:
        if line.category != "plan":
            continue
        period = service_period(line, facts.invoice.issued_on)
        availability = availability_percent(facts.incidents, service=line.service, period=period, now=now)
        share = facts.policy.parameters.sla_share(availability)
        credits.append(
            SlaLineCredit(
                line=line,
                period=period,
                availability=availability,
                share=share,
                credit=quantize(line.amount * share, facts.invoice.currency),
                third_party_downtime=downtime(
                    facts.incidents, service=line.service, period=period, causes=("third_party",), now=now
                ),
                force_majeure_downtime=downtime(
                    facts.incidents, service=line.service, period=period, causes=("force_majeure",), now=now
                ),
            )
        )
    return tuple(credits)


def describe_availability(credit: SlaLineCredit) -> str:
    """``"99.000% of video over 2026-04-01..2026-04-30"`` — truncated, never rounded up into a
    better band than the one applied."""
    shown = credit.availability.quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    first = credit.period[0].date()
    last = (credit.period[1] - timedelta(microseconds=1)).date()
    service = credit.line.service or "the Service"
    return f"{shown}% availability of {service} over {first}..{last}"


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def _sla_allowances(facts: RefundFacts, *, now: datetime) -> tuple[LineAllowance, ...]:
    currency = facts.invoice.currency
    by_line = {credit.line.line_no: credit for credit in sla_line_credits(facts, now=now)}
    allowances = []
    for line in facts.invoice.lines:
        amount = quantize(line.amount, currency)
        credit = by_line.get(line.line_no)
        if credit is None:
            allowances.append(
                LineAllowance(line.line_no, line.description, line.category, amount, zero(currency),
                              "SLA credits apply to plan lines only (section 4.4)")
            )
            continue
        codes = (Code.PARTIAL_SLA_DISRUPTION,) if credit.share > 0 else ()
        why = (f"{describe_availability(credit)} (Januscaler-caused downtime only) -> "
               f"{_percent(credit.share)} credit (sections 1, 4.4)")
        allowances.append(
            LineAllowance(line.line_no, line.description, line.category, amount, credit.credit, why, codes)
        )
    return tuple(allowances)


def billing_error_proposal(facts: RefundFacts) -> Decimal | None:
    """Section 1: the verified overcharge, or until an agent verifies it the amount the customer
    named; ``None`` when neither is known."""
    request = facts.request
    if request.verified_overcharge is not None:
        return request.verified_overcharge
    return request.requested_amount


def refundable_amount(facts: RefundFacts, *, now: datetime) -> AmountBreakdown:
    """The refundable amount for the request's reason, with its line breakdown."""
    check_currencies(facts)
    invoice = facts.invoice
    currency = invoice.currency
    paid = max(invoice.amount_paid, Decimal(0))
    reason = facts.request.reason

    lines: tuple[LineAllowance, ...] = ()
    if reason == "money_back_guarantee":
        lines = mbg_line_allowances(facts)
        subtotal = sum((line.allowed for line in lines), Decimal(0))
        basis = f"sum of line allowances {format_amount(subtotal, currency)}"
    elif reason == "service_unavailability":
        lines = _sla_allowances(facts, now=now)
        subtotal = sum((line.allowed for line in lines), Decimal(0))
        basis = f"SLA credit on plan lines {format_amount(subtotal, currency)}"
    elif reason == "billing_error":
        proposal = billing_error_proposal(facts)
        subtotal = proposal if proposal is not None else Decimal(0)
        if facts.request.verified_overcharge is not None:
            basis = f"overcharge verified by the agent {format_amount(subtotal, currency)}"
        elif proposal is not None:
            basis = f"overcharge named by the customer, not yet verified, {format_amount(subtotal, currency)}"
        else:
            basis = "no overcharge amount named yet"
    else:
        subtotal = Decimal(0)
        basis = "dissatisfaction alone is not a ground for a refund (section 1)"

    earlier = earlier_refunded(facts)
    cap = refund_cap(facts)
    refundable = quantize(max(min(subtotal, cap), Decimal(0)), currency)
    explanation = basis
    if subtotal > cap:
        explanation += f", capped at {format_amount(cap, currency)}"
        if earlier > 0:
            explanation += (f" ({format_amount(paid, currency)} paid on the invoice less "
                            f"{format_amount(earlier, currency)} already refunded on earlier requests)")
        else:
            explanation += " paid on the invoice"
    return AmountBreakdown(
        lines=lines,
        refundable=refundable,
        explanation=explanation,
        subtotal=quantize(subtotal, currency),
        paid=quantize(paid, currency),
        earlier_refunded=quantize(earlier, currency),
        cap=quantize(cap, currency),
    )
