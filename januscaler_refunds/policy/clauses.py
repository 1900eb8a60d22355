"""One function per clause of the Refund Policy.

Each function is named after the section it implements, takes the facts and ``now``, and returns a
``ClauseResult``: a verdict, a one-line explanation that cites the section, and the reason codes it
raises. Functions never read the clock or a database, and never depend on each other's results, so
the engine can run all of them and report every code that applies (it does not stop at the first
block). ``CLAUSES`` lists them in section order; that order is the order of codes in an evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from .amounts import (
    SlaLineCredit,
    billing_error_proposal,
    describe_availability,
    earlier_refunded,
    mbg_line_allowances,
    refund_cap,
    sla_line_credits,
    units_consumed,
)
from .calendar import end_of_day, local_date, start_of_day
from .codes import Code
from .facts import RefundFacts
from .money import format_amount

Verdict = Literal["pass", "fail", "needs_information", "not_applicable", "note"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "needs_information", "not_applicable", "note")

# Request states (interfaces.md) the rules group together.
UNSETTLED_STATES = frozenset({"submitted", "under_review", "info_requested", "approved"})
GUARANTEE_GRANTED_STATES = frozenset({"approved", "paid", "credited"})

_REASON_WORDS = {
    "billing_error": "a billing error",
    "service_unavailability": "service unavailability attributable to Januscaler",
    "money_back_guarantee": "the 7-day money-back guarantee",
    "other": "another reason",
}


@dataclass(frozen=True)
class ClauseResult:
    section: str
    name: str
    verdict: Verdict
    explanation: str
    codes: tuple[Code, ...] = ()


class Clause(Protocol):
    __name__: str

    def __call__(self, facts: RefundFacts, *, now: datetime) -> ClauseResult: ...


class _Finding:
    """Builds the results of one clause so each return reads as a sentence."""

    def __init__(self, section: str, name: str) -> None:
        self.section = section
        self.name = name

    def _result(self, verdict: Verdict, text: str, codes: tuple[Code, ...]) -> ClauseResult:
        return ClauseResult(self.section, self.name, verdict, f"Section {self.section}: {text}", codes)

    def passed(self, text: str, *codes: Code) -> ClauseResult:
        return self._result("pass", text, codes)

    def failed(self, text: str, *codes: Code) -> ClauseResult:
        return self._result("fail", text, codes)

    def needs_information(self, text: str, *codes: Code) -> ClauseResult:
        return self._result("needs_information", text, codes)

    def note(self, text: str, *codes: Code) -> ClauseResult:
        return self._result("note", text, codes)

    def not_applicable(self, text: str) -> ClauseResult:
        return self._result("not_applicable", text, ())


# --- Shared readings ------------------------------------------------------------------------------


def received_date(facts: RefundFacts) -> date:
    """The Kolkata date the request was received: the date every filing rule counts from."""
    return local_date(facts.request.received_at)


def guarantee_period(facts: RefundFacts) -> tuple[datetime, datetime]:
    """"The 7-day period" of section 2.2: the invoice date 00:00 to the end of invoice date + 7,
    Kolkata, both included - the same days as the filing window."""
    issued = facts.invoice.issued_on
    last_day = issued + timedelta(days=facts.policy.parameters.mbg_window_days)
    return start_of_day(issued), end_of_day(last_day)


def _is_guarantee(facts: RefundFacts) -> bool:
    return facts.request.reason == "money_back_guarantee"


def _is_crypto(facts: RefundFacts) -> bool:
    return facts.invoice.payment_method == "crypto"


def _money(facts: RefundFacts, amount: Decimal) -> str:
    return format_amount(amount, facts.invoice.currency)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


_ONLY_GUARANTEE = "applies to money-back guarantee requests only"


# --- Section 1: grounds ---------------------------------------------------------------------------


def section_1_grounds(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 1: refunds only for billing errors, service unavailability attributable to
    Januscaler, and the 7-day money-back guarantee; dissatisfaction alone is not a ground."""
    finding = _Finding("1", "grounds")
    reason = facts.request.reason
    if reason == "other":
        return finding.failed(
            "dissatisfaction alone is not a ground for a refund; if the request shows a real ground, "
            "change its reason and re-evaluate",
            Code.NOT_A_GROUND_DISSATISFACTION,
        )
    return finding.passed(f"{_REASON_WORDS[reason]} is a ground for a refund")


def section_1_invoice_paid(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 1: only fees paid can be refunded; a partly paid invoice caps the refund."""
    finding = _Finding("1", "invoice_paid")
    invoice = facts.invoice
    paid, total = invoice.amount_paid, invoice.lines_total
    if paid <= 0:
        return finding.failed(
            f"nothing has been paid on invoice {invoice.number}, so there is nothing to refund",
            Code.INVOICE_NOT_PAID,
        )
    if paid < total:
        return finding.passed(
            f"invoice {invoice.number} is partly paid ({_money(facts, paid)} of "
            f"{_money(facts, total)}); the refund is capped at the amount paid"
        )
    return finding.passed(f"invoice {invoice.number} is paid ({_money(facts, paid)})")


def section_1_billing_error(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 1 and 4.2: a billing error is refunded once the billing team verifies it; the
    customer must name the overcharged amount (section 4.1). ``billing_error_needs_verification``
    stands only while no verified overcharge is recorded; then ``billing_error_verified``."""
    finding = _Finding("1", "billing_error")
    if facts.request.reason != "billing_error":
        return finding.not_applicable("applies to billing-error requests only")
    proposal = billing_error_proposal(facts)
    if proposal is None:
        return finding.needs_information(
            "the request names no overcharged amount; ask the customer for it, then verify it",
            Code.BILLING_ERROR_NEEDS_VERIFICATION,
            Code.BILLING_ERROR_AMOUNT_MISSING,
        )
    if facts.request.verified_overcharge is not None:
        return finding.note(
            f"the agent verified an overcharge of {_money(facts, proposal)}", Code.BILLING_ERROR_VERIFIED
        )
    return finding.note(
        f"the customer names an overcharge of {_money(facts, proposal)}; verify it before approving",
        Code.BILLING_ERROR_NEEDS_VERIFICATION,
    )


def section_1_service_unavailability(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 1 and 4.4: downtime solely attributable to Januscaler beyond the SLA earns a credit
    on the plan lines; third-party and force-majeure downtime is not a ground."""
    finding = _Finding("1", "service_unavailability")
    if facts.request.reason != "service_unavailability":
        return finding.not_applicable("applies to service-unavailability (SLA) requests only")
    credits = sla_line_credits(facts, now=now)
    if not credits:
        return finding.failed(
            "the invoice has no plan line, so there is no service period to credit",
            Code.SLA_NO_QUALIFYING_DOWNTIME,
        )
    qualifying = [credit for credit in credits if credit.share > 0]
    if qualifying:
        # A qualifying Januscaler outage is a ground; other causes in the same period change nothing.
        return finding.passed(
            "; ".join(_credit_words(facts, credit) for credit in qualifying),
            Code.PARTIAL_SLA_DISRUPTION,
        )
    codes = [Code.SLA_NO_QUALIFYING_DOWNTIME]
    text = "Januscaler-caused downtime stayed within the SLA (" + "; ".join(
        describe_availability(credit) for credit in credits
    ) + ")"
    third_party = sum((c.third_party_downtime for c in credits), timedelta(0))
    force_majeure = sum((c.force_majeure_downtime for c in credits), timedelta(0))
    if third_party:
        codes.append(Code.NOT_A_GROUND_THIRD_PARTY)
        text += f"; {_duration(third_party)} of third-party downtime is not a ground"
    if force_majeure:
        codes.append(Code.NOT_A_GROUND_FORCE_MAJEURE)
        text += f"; {_duration(force_majeure)} of force-majeure downtime is not a ground"
    return finding.failed(text, *codes)


def _credit_words(facts: RefundFacts, credit: SlaLineCredit) -> str:
    return (f"line {credit.line.line_no}: {describe_availability(credit)} -> credit "
            f"{_money(facts, credit.credit)}")


# --- Section 2: the 7-day money-back guarantee ----------------------------------------------------


def section_2_1_new_customer(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.1: the guarantee is for new customers - no invoice dated before this one."""
    finding = _Finding("2.1", "new_customer")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    invoice = facts.invoice
    earlier = sorted(
        (other for other in facts.customer.other_invoices
         if other.number != invoice.number and other.issued_on < invoice.issued_on),
        key=lambda other: other.issued_on,
    )
    if earlier:
        first = earlier[0]
        return finding.failed(
            f"the customer was invoiced before {invoice.issued_on} (first: {first.number} on "
            f"{first.issued_on}), so is not a new customer",
            Code.MBG_NOT_NEW_CUSTOMER,
        )
    return finding.passed(f"no invoice of the customer is dated before {invoice.issued_on}")


def section_2_1_initial_purchase(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.1: the guarantee covers the first Service order, not renewals or later orders."""
    finding = _Finding("2.1", "initial_purchase")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    kind = facts.invoice.kind
    if kind != "initial":
        words = "a renewal" if kind == "renewal" else "a later order"
        return finding.failed(
            f"invoice {facts.invoice.number} is {words}, not the initial purchase",
            Code.MBG_NOT_INITIAL_PURCHASE,
        )
    return finding.passed(f"invoice {facts.invoice.number} is the initial purchase")


def section_2_1_once_per_customer(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.1: the guarantee applies once per customer. A guarantee request that reached
    approved, paid or credited uses it up; a denied or withdrawn one does not."""
    finding = _Finding("2.1", "once_per_customer")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    granted = [
        other for other in facts.customer.refund_requests
        if other.reference != facts.request.reference
        and other.reason == "money_back_guarantee"
        and other.state in GUARANTEE_GRANTED_STATES
    ]
    if granted:
        other = granted[0]
        return finding.failed(
            f"the guarantee was already granted on request {other.reference} "
            f"(invoice {other.invoice_number}, {other.state})",
            Code.MBG_ALREADY_USED,
        )
    return finding.passed("the customer has not been granted the guarantee before")


def section_2_2_crypto_payment(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.2: cryptocurrency payments are excluded from the guarantee (irreversible)."""
    finding = _Finding("2.2", "crypto_payment")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    if _is_crypto(facts):
        return finding.failed(
            "the invoice was paid by cryptocurrency, which the guarantee excludes",
            Code.MBG_CRYPTO_PAYMENT,
        )
    return finding.passed(f"paid by {facts.invoice.payment_method.replace('_', ' ')}, not cryptocurrency")


def section_2_2_extensive_use(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.2: extensive use voids the guarantee - prepaid API units consumed in the 7-day
    period strictly above the version's ratio (default 25%) of the units the invoice bought."""
    finding = _Finding("2.2", "extensive_use")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    prepaid = [line for line in facts.invoice.lines if line.category == "prepaid_api_credit"]
    if not prepaid:
        return finding.passed("the invoice bought no prepaid API units, so there is no usage to weigh")
    since, until = guarantee_period(facts)
    bought = sum((Decimal(line.units or 0) for line in prepaid), Decimal(0))
    used = sum(
        (units_consumed(facts.usage, line.line_no, since=since, until=until) for line in prepaid),
        Decimal(0),
    )
    ratio = facts.policy.parameters.extensive_use_ratio
    share = f"{used:,} of {bought:,} prepaid units ({used * 100 / bought:.1f}%)"
    last_day = until.date()
    limit = f"{(ratio * 100).normalize():f}%"
    if used > ratio * bought:
        return finding.failed(
            f"{share} used by the end of {last_day}, above the {limit} limit",
            Code.MBG_EXTENSIVE_USE,
        )
    return finding.passed(f"{share} used by the end of {last_day}, within the {limit} limit")


def section_2_2_abuse_report(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 2.2: an abuse report received within the 7-day period voids the guarantee, even if
    it arrives after the request."""
    finding = _Finding("2.2", "abuse_report")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    since, until = guarantee_period(facts)
    within = sorted(
        report.received_at for report in facts.customer.abuse_reports
        if since <= report.received_at <= until
    )
    if within:
        first = local_date(within[0])
        return finding.failed(
            f"{len(within)} abuse report(s) received between {since.date()} and the end of "
            f"{until.date()} (first on {first})",
            Code.MBG_ABUSE_REPORT,
        )
    return finding.passed(f"no abuse report received between {since.date()} and the end of {until.date()}")


# --- Section 3: eligibility -----------------------------------------------------------------------


def section_3_filing_window(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 3: a request must arrive within 7 calendar days of the invoice date for the
    guarantee and 15 for billing errors and SLA claims, the boundary day included."""
    finding = _Finding("3", "filing_window")
    window = facts.policy.parameters.filing_window_days(facts.request.reason)
    issued, received = facts.invoice.issued_on, received_date(facts)
    elapsed = (received - issued).days
    last_day = issued + timedelta(days=window)
    text = (f"received {received}, {elapsed} day(s) after the invoice date {issued}; the "
            f"{window}-day window ends on {last_day}")
    if elapsed > window:
        return finding.failed(text, Code.WINDOW_EXPIRED)
    return finding.passed(text)


def section_3_documentation(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 3: supporting documentation. Billing-error and SLA requests need at least one
    document (else: needs information, not deny); for the guarantee the invoice on file counts."""
    finding = _Finding("3", "documentation")
    reason = facts.request.reason
    if reason == "money_back_guarantee":
        return finding.passed("the invoice on file is the documentation for the guarantee")
    if reason == "other":
        return finding.not_applicable("no documentation rule for requests without a ground")
    count = facts.request.document_count
    if count < 1:
        return finding.needs_information(
            "no supporting document attached; ask for invoices, error logs or screenshots",
            Code.MISSING_DOCUMENTATION,
        )
    return finding.passed(f"{count} supporting document(s) attached")


def section_3_prior_invoices_paid(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 3, good standing: every other invoice of the customer issued on or before the date
    the request was received is fully paid (amount paid >= the sum of its lines)."""
    finding = _Finding("3", "prior_invoices_paid")
    received = received_date(facts)
    unpaid = [
        other for other in facts.customer.other_invoices
        if other.number != facts.invoice.number
        and other.issued_on <= received
        and other.amount_paid < other.lines_total
    ]
    if unpaid:
        listed = ", ".join(
            f"{other.number} ({_money(facts, other.lines_total - other.amount_paid)} due)"
            for other in unpaid
        )
        return finding.failed(f"the account has unpaid invoices: {listed}", Code.ACCOUNT_UNPAID_INVOICES)
    return finding.passed(f"every other invoice issued by {received} is fully paid")


def section_3_no_open_violations(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 1 and 3, good standing: no open violation of the Terms or the AUP."""
    finding = _Finding("3", "no_open_violations")
    open_ones = [v for v in facts.customer.violations if v.status == "open"]
    if open_ones:
        listed = ", ".join(f"{v.kind.upper()} since {v.opened_on}" for v in open_ones)
        return finding.failed(f"the account has an open violation: {listed}", Code.ACCOUNT_VIOLATION)
    return finding.passed("no open Terms or AUP violation")


def section_3_identity_verification(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 3 and 4.3: for cryptocurrency payments, identity verification if requested; while
    it is pending no credit is issued."""
    finding = _Finding("3", "identity_verification")
    if not _is_crypto(facts):
        return finding.not_applicable("applies to cryptocurrency payments only")
    verified = facts.customer.identity_verified
    if verified is False:
        return finding.needs_information(
            "identity verification was requested and is still pending",
            Code.IDENTITY_VERIFICATION_PENDING,
        )
    if verified:
        return finding.passed("the customer's identity is verified")
    return finding.passed("identity verification has not been requested")


# --- Section 4: the process -----------------------------------------------------------------------


def section_4_duplicate_request(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 4: a request is a duplicate when another request on the same invoice, received
    earlier, is still unsettled (whatever its reason); only the newer one is flagged."""
    finding = _Finding("4", "duplicate_request")
    own = facts.request
    mine = (own.received_at, own.reference)
    # Same received_at: the lower reference counts as the earlier, so exactly one of two is flagged.
    earlier = [
        other for other in facts.customer.refund_requests
        if other.reference != own.reference
        and other.invoice_number == facts.invoice.number
        and other.state in UNSETTLED_STATES
        and (other.received_at, other.reference) < mine
    ]
    if earlier:
        first = min(earlier, key=lambda other: (other.received_at, other.reference))
        return finding.failed(
            f"request {first.reference} on invoice {facts.invoice.number} was received earlier and is "
            f"still {first.state.replace('_', ' ')}",
            Code.DUPLICATE_REQUEST,
        )
    return finding.passed(f"no earlier open request on invoice {facts.invoice.number}")


def section_4_1_requester_is_customer(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 4.1: the request comes with the Account details; a requester address that is not
    the invoice customer's needs the account holder's confirmation."""
    finding = _Finding("4.1", "requester_is_customer")
    # Compared case-insensitively: mail systems treat addresses that way in practice.
    known = {facts.invoice.customer_email.strip().casefold()}
    known.update(email.strip().casefold() for email in facts.customer.emails)
    requester = facts.request.requester_email.strip()
    if requester.casefold() not in known:
        return finding.needs_information(
            f"{requester} is not an address of the invoice's customer; confirm with the account holder",
            Code.INVOICE_CUSTOMER_MISMATCH,
        )
    return finding.passed(f"{requester} is the invoice customer's address")


def section_4_3_crypto_credit_only(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 4.3: cryptocurrency payments are never refunded to the payment method; an account
    credit may be offered at the company's discretion."""
    finding = _Finding("4.3", "crypto_credit_only")
    if not _is_crypto(facts):
        return finding.not_applicable("applies to cryptocurrency payments only")
    return finding.note(
        "paid by cryptocurrency: no refund to the payment method, an account credit at discretion",
        Code.CRYPTO_CREDIT_ONLY,
    )


def section_4_4_prorated_unused(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 4.4: prepaid services are refunded for their unused portion, prorated on API usage
    up to the time the request was received."""
    finding = _Finding("4.4", "prorated_unused")
    if not _is_guarantee(facts):
        return finding.not_applicable(_ONLY_GUARANTEE)
    prepaid = [a for a in mbg_line_allowances(facts) if a.category == "prepaid_api_credit"]
    if not prepaid:
        return finding.not_applicable("the invoice has no prepaid API credit")
    prorated = [a for a in prepaid if Code.PARTIAL_PRORATED_UNUSED in a.codes]
    if prorated:
        listed = ", ".join(f"line {a.line_no} {_money(facts, a.allowed)} of {_money(facts, a.amount)}"
                           for a in prorated)
        return finding.note(f"only the unused prepaid credit is refunded: {listed}",
                            Code.PARTIAL_PRORATED_UNUSED)
    return finding.passed("no prepaid units were used before the request; the credit is refunded in full")


def section_4_4_earlier_refunds(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 4.4 and 5: a request never returns more than the invoice took in, so what earlier
    requests on the same invoice already paid out or credited comes off the cap; whenever it does,
    ``cap_reduced_by_earlier_refunds`` shows it."""
    finding = _Finding("4.4", "earlier_refunds")
    earlier = earlier_refunded(facts)
    if earlier <= 0:
        return finding.not_applicable(f"no earlier refund on invoice {facts.invoice.number}")
    own = facts.request.reference
    listed = ", ".join(
        f"{refund.reference} {refund.kind} {_money(facts, refund.amount)}"
        for refund in facts.invoice.earlier_refunds
        if refund.reference != own
    )
    return finding.note(
        f"earlier requests on invoice {facts.invoice.number} already returned {_money(facts, earlier)} "
        f"({listed}); at most {_money(facts, refund_cap(facts))} of the "
        f"{_money(facts, max(facts.invoice.amount_paid, Decimal(0)))} paid can still be refunded",
        Code.CAP_REDUCED_BY_EARLIER_REFUNDS,
    )


def section_5_non_refundable_charges(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 5 and 2.2: usage-based fees, third-party fees (licences, payment gateway charges),
    setup, onboarding and custom development are not refunded under the guarantee."""
    finding = _Finding("5", "non_refundable_charges")
    if not _is_guarantee(facts):
        # Billing errors refund the overcharge and SLA claims credit plan lines only; neither goes
        # through the invoice line by line, so there is nothing to exclude.
        return finding.not_applicable(_ONLY_GUARANTEE)
    excluded = [a for a in mbg_line_allowances(facts) if a.codes and a.category != "prepaid_api_credit"]
    if not excluded:
        return finding.passed("no non-refundable charges on the invoice")
    codes: list[Code] = []
    for allowance in excluded:
        codes.extend(code for code in allowance.codes if code not in codes)
    listed = ", ".join(f"line {a.line_no} {a.category.replace('_', ' ')} {_money(facts, a.amount)}"
                       for a in excluded)
    return finding.note(f"not refundable: {listed}", *codes)


# --- Section 6: chargebacks -----------------------------------------------------------------------


def section_6_chargebacks(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Section 6: a chargeback on the invoice blocks a refund unless Januscaler won it. An open
    dispute may still return the money, and a lost or accepted one already did; refunding as well
    would pay twice. A won dispute kept the money with Januscaler, so a refund is judged normally."""
    finding = _Finding("6", "chargebacks")
    blocking = [cb for cb in facts.invoice.chargebacks if cb.outcome != "won"]
    if blocking:
        listed = ", ".join(f"{cb.ref} ({cb.outcome or 'open'})" for cb in blocking)
        return finding.failed(f"chargeback on the invoice not won by Januscaler: {listed}",
                              Code.CHARGEBACK_OPEN)
    if facts.invoice.chargebacks:
        return finding.passed("every chargeback on the invoice was won by Januscaler")
    return finding.passed("no chargeback on the invoice")


def section_6_1_account_suspended(facts: RefundFacts, *, now: datetime) -> ClauseResult:
    """Sections 3 and 6.1: a suspended account is not in good standing."""
    finding = _Finding("6.1", "account_suspended")
    if facts.customer.status == "suspended":
        return finding.failed("the account is suspended", Code.ACCOUNT_SUSPENDED)
    return finding.passed("the account is active")


CLAUSES: tuple[Clause, ...] = (
    section_1_grounds,
    section_1_invoice_paid,
    section_1_billing_error,
    section_1_service_unavailability,
    section_2_1_new_customer,
    section_2_1_initial_purchase,
    section_2_1_once_per_customer,
    section_2_2_crypto_payment,
    section_2_2_extensive_use,
    section_2_2_abuse_report,
    section_3_filing_window,
    section_3_documentation,
    section_3_prior_invoices_paid,
    section_3_no_open_violations,
    section_3_identity_verification,
    section_4_duplicate_request,
    section_4_1_requester_is_customer,
    section_4_3_crypto_credit_only,
    section_4_4_prorated_unused,
    section_4_4_earlier_refunds,
    section_5_non_refundable_charges,
    section_6_chargebacks,
    section_6_1_account_suspended,
)
