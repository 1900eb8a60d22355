"""The plain input data the policy engine judges.

Everything here is a frozen dataclass built by the caller (the Django layer, an import, a test) from
what is known when the evaluation runs. Nothing here reads the clock or a database.

Validation happens on construction so that a bad fact fails loudly and names itself, instead of
turning into a wrong recommendation later: money must be ``Decimal`` (never ``float``), moments must
be time-zone aware, enumerated values must be the public names from ``interfaces.md``.
Sequences are stored as tuples so the facts stay immutable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:  # imported for annotations only: calendar and versions import this module
    from .calendar import BusinessCalendar
    from .versions import PolicyVersion

# --- Enumerations: the stored values from interfaces.md ------------------------------------------

Reason = Literal["billing_error", "service_unavailability", "money_back_guarantee", "other"]
RequestState = Literal[
    "submitted",
    "under_review",
    "info_requested",
    "approved",
    "denied",
    "paid",
    "credited",
    "withdrawn",
]
PaymentMethod = Literal["card", "bank_transfer", "wallet", "crypto", "other"]
InvoiceKind = Literal["initial", "renewal", "later_order"]
LineCategory = Literal[
    "plan",
    "prepaid_api_credit",
    "usage_fee",
    "third_party_license",
    "payment_gateway_fee",
    "setup",
    "onboarding",
    "custom_development",
    "other",
]
IncidentCause = Literal["januscaler", "third_party", "force_majeure"]
CustomerStatus = Literal["active", "suspended"]
ViolationKind = Literal["tos", "aup"]
ViolationStatus = Literal["open", "resolved"]
# ``None`` (no outcome yet) and "open" both mean the dispute is still running.
ChargebackOutcome = Literal["open", "won", "lost", "accepted"]
# How an earlier request on the invoice was settled: paid back to a payment method, or credited.
SettlementKind = Literal["payout", "credit"]

REASONS: frozenset[str] = frozenset(get_args(Reason))
REQUEST_STATES: frozenset[str] = frozenset(get_args(RequestState))
PAYMENT_METHODS: frozenset[str] = frozenset(get_args(PaymentMethod))
INVOICE_KINDS: frozenset[str] = frozenset(get_args(InvoiceKind))
LINE_CATEGORIES: frozenset[str] = frozenset(get_args(LineCategory))
INCIDENT_CAUSES: frozenset[str] = frozenset(get_args(IncidentCause))
CUSTOMER_STATUSES: frozenset[str] = frozenset(get_args(CustomerStatus))
VIOLATION_KINDS: frozenset[str] = frozenset(get_args(ViolationKind))
VIOLATION_STATUSES: frozenset[str] = frozenset(get_args(ViolationStatus))
CHARGEBACK_OUTCOMES: frozenset[str] = frozenset(get_args(ChargebackOutcome))
SETTLEMENT_KINDS: frozenset[str] = frozenset(get_args(SettlementKind))


# --- Errors ---------------------------------------------------------------------------------------


class PolicyInputError(ValueError):
    """The facts handed to the policy engine are unusable; the message names the bad fact."""


class CurrencyMismatch(PolicyInputError):
    """An amount is in a different currency from the invoice it belongs to.

    The engine refuses rather than converting: a refund is paid in the invoice's currency, and an
    exchange rate is not a policy decision.
    """

    def __init__(self, *, what: str, found: str, expected: str) -> None:
        self.what = what
        self.found = found
        self.expected = expected
        super().__init__(
            f"{what} is in {found} but the invoice is in {expected}; "
            f"amounts in {found} and {expected} cannot be mixed"
        )


# --- Validation helpers ---------------------------------------------------------------------------

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def normalize_currency(value: str, what: str) -> str:
    """Return an ISO 4217 alphabetic code in upper case, or refuse a malformed one."""
    if not isinstance(value, str) or not _CURRENCY_RE.match(value.strip().upper()):
        raise PolicyInputError(f"{what}: {value!r} is not a three-letter ISO 4217 currency code")
    return value.strip().upper()


def _require_aware(value: Any, what: str) -> None:
    # A naive datetime cannot be placed on the Kolkata calendar without guessing.
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise PolicyInputError(f"{what} must be a time-zone-aware datetime, got {value!r}")


def _require_date(value: Any, what: str) -> None:
    # datetime is a subclass of date; accepting one here would compare a moment with a day.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise PolicyInputError(f"{what} must be a date, got {value!r}")


def _require_decimal(value: Any, what: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    # float is refused on purpose: 0.1 + 0.2 is not money.
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PolicyInputError(f"{what} must be a finite Decimal, got {value!r}")


def _require_units(value: Any, what: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PolicyInputError(f"{what} must be an int or Decimal, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise PolicyInputError(f"{what} must be finite, got {value!r}")
    if value < 0:
        raise PolicyInputError(f"{what} must not be negative, got {value!r}")


def _require_choice(value: Any, choices: frozenset[str], what: str) -> None:
    if value not in choices:
        raise PolicyInputError(f"{what}: {value!r} is not one of {sorted(choices)}")


def _freeze(instance: object, name: str) -> None:
    # Callers naturally pass lists; store tuples so a frozen fact cannot be mutated in place.
    value = getattr(instance, name)
    if not isinstance(value, tuple):
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise PolicyInputError(f"{name} must be a sequence, got {value!r}")
        object.__setattr__(instance, name, tuple(value))


# --- The request ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfoPause:
    """The billing team asked the customer for information (section 4.2 "we may contact you").

    ``answered_on`` is ``None`` while the customer has not answered yet.
    """

    requested_on: date
    answered_on: date | None = None

    def __post_init__(self) -> None:
        _require_date(self.requested_on, "info pause requested_on")
        if self.answered_on is not None:
            _require_date(self.answered_on, "info pause answered_on")
            if self.answered_on < self.requested_on:
                raise PolicyInputError(
                    f"info pause answered on {self.answered_on} before it was requested "
                    f"on {self.requested_on}"
                )


@dataclass(frozen=True)
class RequestFacts:
    """The refund request being evaluated.

    ``currency`` is the currency of ``requested_amount``; ``None`` means the invoice's currency.
    ``verified_overcharge`` is set by an agent once a billing error has been checked.
    """

    reference: str
    reason: Reason
    received_at: datetime
    requester_email: str
    requested_amount: Decimal | None = None
    currency: str | None = None
    document_count: int = 0
    verified_overcharge: Decimal | None = None
    info_pauses: tuple[InfoPause, ...] = ()

    def __post_init__(self) -> None:
        _require_choice(self.reason, REASONS, f"request {self.reference} reason")
        _require_aware(self.received_at, f"request {self.reference} received_at")
        _require_decimal(self.requested_amount, "requested_amount", allow_none=True)
        _require_decimal(self.verified_overcharge, "verified_overcharge", allow_none=True)
        if self.currency is not None:
            object.__setattr__(self, "currency", normalize_currency(self.currency, "request currency"))
        if isinstance(self.document_count, bool) or not isinstance(self.document_count, int):
            raise PolicyInputError(f"document_count must be an int, got {self.document_count!r}")
        if self.document_count < 0:
            raise PolicyInputError("document_count must not be negative")
        _freeze(self, "info_pauses")


# --- The invoice ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice line.

    ``units`` is the number of prepaid API units the line bought (prepaid_api_credit lines only).
    ``service`` and the period say what a plan line covers; with no period the SLA uses the calendar
    month of the invoice date. ``currency`` ``None`` means the invoice's currency.
    """

    line_no: int
    category: LineCategory
    description: str
    amount: Decimal
    units: int | Decimal | None = None
    service: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        what = f"invoice line {self.line_no}"
        _require_choice(self.category, LINE_CATEGORIES, f"{what} category")
        _require_decimal(self.amount, f"{what} amount")
        _require_units(self.units, f"{what} units", allow_none=True)
        if self.category == "prepaid_api_credit" and not self.units:
            # Without the units bought neither the 25% test nor the proration can be computed.
            raise PolicyInputError(f"{what} is prepaid API credit and must state the units bought (> 0)")
        if (self.period_start is None) != (self.period_end is None):
            raise PolicyInputError(f"{what}: give both period_start and period_end, or neither")
        if self.period_start is not None and self.period_end is not None:
            _require_date(self.period_start, f"{what} period_start")
            _require_date(self.period_end, f"{what} period_end")
            if self.period_end < self.period_start:
                raise PolicyInputError(f"{what}: period ends before it starts")
        if self.currency is not None:
            object.__setattr__(self, "currency", normalize_currency(self.currency, f"{what} currency"))


@dataclass(frozen=True)
class Chargeback:
    """A chargeback on the invoice. ``outcome`` ``None`` or "open": the dispute is still running."""

    ref: str
    received_at: datetime
    outcome: ChargebackOutcome | None = None

    def __post_init__(self) -> None:
        _require_aware(self.received_at, f"chargeback {self.ref} received_at")
        if self.outcome is not None:
            _require_choice(self.outcome, CHARGEBACK_OUTCOMES, f"chargeback {self.ref} outcome")


@dataclass(frozen=True)
class SettledRefund:
    """Money an earlier request on the same invoice already gave back (sections 4.4, 5).

    "Earlier" means recorded before the evaluation runs: every other request on the invoice whose
    payout or account credit is on record, whatever order the requests were received in - the money
    has left the invoice either way. The request being evaluated is skipped by reference.
    ``currency`` ``None`` means the invoice's currency.
    """

    reference: str
    kind: SettlementKind
    amount: Decimal
    settled_at: datetime
    currency: str | None = None

    def __post_init__(self) -> None:
        what = f"settled refund of request {self.reference}"
        _require_choice(self.kind, SETTLEMENT_KINDS, f"{what} kind")
        _require_decimal(self.amount, f"{what} amount")
        if self.amount < 0:
            raise PolicyInputError(f"{what} amount must not be negative, got {self.amount!r}")
        _require_aware(self.settled_at, f"{what} settled_at")
        if self.currency is not None:
            object.__setattr__(self, "currency", normalize_currency(self.currency, f"{what} currency"))


@dataclass(frozen=True)
class InvoiceFacts:
    """The invoice the request is about, with its lines, any chargebacks on it, and what earlier
    requests on it already paid out or credited (``earlier_refunds``)."""

    number: str
    customer_id: str
    customer_email: str
    issued_on: date
    kind: InvoiceKind
    payment_method: PaymentMethod
    currency: str
    amount_paid: Decimal
    lines: tuple[InvoiceLine, ...] = ()
    chargebacks: tuple[Chargeback, ...] = ()
    earlier_refunds: tuple[SettledRefund, ...] = ()

    def __post_init__(self) -> None:
        what = f"invoice {self.number}"
        _require_date(self.issued_on, f"{what} issued_on")
        _require_choice(self.kind, INVOICE_KINDS, f"{what} kind")
        _require_choice(self.payment_method, PAYMENT_METHODS, f"{what} payment_method")
        object.__setattr__(self, "currency", normalize_currency(self.currency, f"{what} currency"))
        _require_decimal(self.amount_paid, f"{what} amount_paid")
        _freeze(self, "lines")
        _freeze(self, "chargebacks")
        _freeze(self, "earlier_refunds")
        numbers = [line.line_no for line in self.lines]
        if len(numbers) != len(set(numbers)):
            raise PolicyInputError(f"{what} has two lines with the same line_no")

    @property
    def lines_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


# --- The customer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """A terms-of-service or AUP violation on the customer's account."""

    kind: ViolationKind
    status: ViolationStatus
    opened_on: date

    def __post_init__(self) -> None:
        _require_choice(self.kind, VIOLATION_KINDS, "violation kind")
        _require_choice(self.status, VIOLATION_STATUSES, "violation status")
        _require_date(self.opened_on, "violation opened_on")


@dataclass(frozen=True)
class OtherInvoice:
    """Another invoice of the same customer (good standing, new-customer test)."""

    number: str
    issued_on: date
    kind: InvoiceKind
    amount_paid: Decimal
    lines_total: Decimal

    def __post_init__(self) -> None:
        _require_date(self.issued_on, f"invoice {self.number} issued_on")
        _require_choice(self.kind, INVOICE_KINDS, f"invoice {self.number} kind")
        _require_decimal(self.amount_paid, f"invoice {self.number} amount_paid")
        _require_decimal(self.lines_total, f"invoice {self.number} lines_total")


@dataclass(frozen=True)
class OtherRequest:
    """Another refund request on one of the customer's invoices (duplicates, guarantee used)."""

    reference: str
    invoice_number: str
    reason: Reason
    state: RequestState
    received_at: datetime

    def __post_init__(self) -> None:
        _require_choice(self.reason, REASONS, f"request {self.reference} reason")
        _require_choice(self.state, REQUEST_STATES, f"request {self.reference} state")
        _require_aware(self.received_at, f"request {self.reference} received_at")


@dataclass(frozen=True)
class AbuseReport:
    received_at: datetime
    ref: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.received_at, f"abuse report {self.ref} received_at")


@dataclass(frozen=True)
class CustomerFacts:
    """The invoice's customer.

    ``identity_verified``: ``True`` verified, ``False`` requested and still pending, ``None`` never
    requested. ``emails`` are all the addresses known for the customer (the invoice's address is
    always accepted too). ``other_invoices`` and ``refund_requests`` may include the invoice and
    request being evaluated; they are skipped by number and reference.
    """

    status: CustomerStatus = "active"
    identity_verified: bool | None = None
    emails: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    other_invoices: tuple[OtherInvoice, ...] = ()
    refund_requests: tuple[OtherRequest, ...] = ()
    abuse_reports: tuple[AbuseReport, ...] = ()

    def __post_init__(self) -> None:
        _require_choice(self.status, CUSTOMER_STATUSES, "customer status")
        if self.identity_verified not in (True, False, None):
            raise PolicyInputError("identity_verified must be True, False or None")
        for name in ("emails", "violations", "other_invoices", "refund_requests", "abuse_reports"):
            _freeze(self, name)


# --- Measurements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageRecord:
    """Prepaid API units consumed against an invoice line at a moment."""

    line_no: int
    at: datetime
    units: int | Decimal

    def __post_init__(self) -> None:
        _require_aware(self.at, f"usage on line {self.line_no} at")
        _require_units(self.units, f"usage on line {self.line_no} units")


@dataclass(frozen=True)
class Incident:
    """Downtime of a service. ``end`` ``None``: still going on, counted up to ``now``."""

    service: str
    start: datetime
    end: datetime | None
    cause: IncidentCause
    ref: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.start, f"incident {self.ref} start")
        _require_choice(self.cause, INCIDENT_CAUSES, f"incident {self.ref} cause")
        if self.end is not None:
            _require_aware(self.end, f"incident {self.ref} end")
            if self.end < self.start:
                raise PolicyInputError(f"incident {self.ref} ends before it starts")


# --- Everything together --------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundFacts:
    """All the engine needs: the request, its invoice and customer, measurements, the policy
    version the request is evaluated under, and the business-day calendar."""

    request: RequestFacts
    invoice: InvoiceFacts
    customer: CustomerFacts
    policy: PolicyVersion
    calendar: BusinessCalendar
    usage: tuple[UsageRecord, ...] = ()
    incidents: tuple[Incident, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "usage")
        _freeze(self, "incidents")
