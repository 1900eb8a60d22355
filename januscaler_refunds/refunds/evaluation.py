"""The adapter between the database and the pure policy engine.

``load_facts`` reads everything the engine needs for one request in a fixed,
small number of queries (asserted in tests), whatever the customer's history;
``evaluate_and_store`` runs the engine and keeps the result on the request as a
snapshot (with the policy version and the time it was made), which is what the
review console and the reports show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, cast

from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from januscaler_refunds.billing.models import (
    AbuseReport,
    CompanyHoliday,
    Incident,
    Invoice,
    InvoiceLine,
    PolicyVersion,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.policy import facts as f
from januscaler_refunds.policy.calendar import BusinessCalendar, local_date
from januscaler_refunds.policy.engine import Evaluation, evaluate, payout_deadline
from januscaler_refunds.policy.versions import PolicyParameters, normalise_sla_table
from januscaler_refunds.policy.versions import PolicyVersion as PolicyVersionFacts
from januscaler_refunds.refunds.documents import ACCEPTED_TYPES
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    InformationRequest,
    RefundDocument,
    RefundRequest,
)


def business_calendar() -> BusinessCalendar:
    """One query: the company holidays. Public holidays come from the ``holidays`` package.

    Build it once per request, page, export or scan and pass it down; each call costs a query."""
    return BusinessCalendar(CompanyHoliday.objects.values_list("date", flat=True))


def policy_facts(version: PolicyVersion) -> PolicyVersionFacts:
    return PolicyVersionFacts(
        label=version.label,
        effective_date=version.effective_date,
        announced_on=version.announced_on,
        material=version.material_change,
        parameters=PolicyParameters(
            mbg_window_days=version.mbg_window_days,
            claim_window_days=version.claim_window_days,
            review_business_days=version.review_business_days,
            payout_business_days=version.payout_business_days,
            near_threshold_business_days=version.near_deadline_business_days,
            pause_review_clock_on_info_request=version.pause_clock_on_info_request,
            extensive_use_ratio=Decimal(version.extensive_use_ratio),
            # str() first: JSON may hold numbers, and the policy refuses floats.
            sla_credit_table=normalise_sla_table((str(a), str(s)) for a, s in version.sla_credit_table),
        ),
    )


def payout_due(approved_at: dt.datetime, version: PolicyVersion, calendar: BusinessCalendar | None = None) -> dt.datetime:
    """Section 4.3: the end of the 10th business day after approval."""
    deadline = payout_deadline(
        approved_at, calendar=calendar or business_calendar(), parameters=policy_facts(version).parameters
    )
    return deadline.due_at


def _line_facts(line: tuple[Any, ...]) -> f.InvoiceLine:
    line_no, category, description, amount, units, service, period_start, period_end = line
    return f.InvoiceLine(
        line_no=line_no,
        category=category,
        description=description,
        amount=amount,
        units=units,
        service=service or None,
        period_start=period_start if period_end else None,
        period_end=period_end if period_start else None,
    )


def settled_refunds(rows: Iterable[Mapping[str, Any]]) -> tuple[f.SettledRefund, ...]:
    """Earlier refunds of an invoice from request rows carrying ``reference`` and the ``payout__*`` /
    ``credit__*`` columns (see ``load_facts``): every recorded payout or credit counts, whatever the
    request's received date - the money has left the invoice either way."""
    refunds: list[f.SettledRefund] = []
    for row in rows:
        if row["payout__amount"] is not None:
            refunds.append(f.SettledRefund(reference=row["reference"], kind="payout", amount=row["payout__amount"],
                                           currency=row["payout__currency"], settled_at=row["payout__paid_at"]))
        if row["credit__amount"] is not None:
            refunds.append(f.SettledRefund(reference=row["reference"], kind="credit", amount=row["credit__amount"],
                                           currency=row["credit__currency"], settled_at=row["credit__created_at"]))
    return tuple(sorted(refunds, key=lambda refund: (refund.settled_at, refund.reference)))


class RequestRow(NamedTuple):
    """The request's own columns and its invoice's and customer's, as plain values: built from a model
    instance (``request_row``) or straight from a ``values_list(*REQUEST_COLUMNS)`` tuple in a batch."""

    pk: int
    reference: str
    reason: str
    received_at: dt.datetime
    requester_email: str
    requested_amount: Decimal | None
    currency: str
    verified_overcharge: Decimal | None
    customer_id: int
    invoice_id: int
    policy_version_id: int
    invoice_number: str
    invoice_issued_on: dt.date
    invoice_kind: str
    invoice_payment_method: str
    invoice_currency: str
    invoice_amount_paid: Decimal
    customer_email: str
    customer_other_emails: list[str] | None
    customer_status: str
    customer_identity_verified: bool | None


# The ORM paths of RequestRow's fields, in its order.
REQUEST_COLUMNS = (
    "pk", "reference", "reason", "received_at", "requester_email", "requested_amount", "currency",
    "verified_overcharge", "customer_id", "invoice_id", "policy_version_id", "invoice__number",
    "invoice__issued_on", "invoice__kind", "invoice__payment_method", "invoice__currency", "invoice__amount_paid",
    "customer__email", "customer__other_emails", "customer__status", "customer__identity_verified",
)
OTHER_REQUEST_FIELDS = (
    "reference", "invoice_id", "invoice__number", "reason", "state", "received_at",
    "payout__amount", "payout__currency", "payout__paid_at",
    "credit__amount", "credit__currency", "credit__created_at",
)
# Explicit, total orders (ties broken by a key), shared with the batch reader in refunds.reevaluation so
# a request sees its rows in the same order either way (explanations name "the first" of them).
ORDER: dict[str, tuple[str, ...]] = {
    "chargebacks": ("-received_at", "pk"),
    "violations": ("-opened_on", "pk"),
    "other_invoices": ("-issued_on", "number"),
    "other_requests": ("received_at", "pk"),
    "abuse": ("-received_at", "pk"),
    "usage": ("at", "pk"),
    "incidents": ("-start", "pk"),
    "pauses": ("requested_at", "pk"),
}
LINE_COLUMNS = ("line_no", "category", "description", "amount", "units", "service", "period_start", "period_end")


def request_row(request: RefundRequest) -> RequestRow:
    invoice: Invoice = request.invoice
    customer = request.customer
    return RequestRow(
        request.pk, request.reference, request.reason, request.received_at, request.requester_email,
        request.requested_amount, request.currency, request.verified_overcharge, customer.pk, invoice.pk,
        request.policy_version_id, invoice.number, invoice.issued_on, invoice.kind, invoice.payment_method,
        invoice.currency, invoice.amount_paid, customer.email, customer.other_emails, customer.status,
        customer.identity_verified,
    )


@dataclass
class FactRows:
    """The rows the facts of one request are built from (read here one request at a time, or for a
    whole batch by ``refunds.reevaluation``)."""

    lines: Sequence[tuple[Any, ...]]  # LINE_COLUMNS, by line_no
    chargebacks: Sequence[Mapping[str, Any]]
    violations: Sequence[Mapping[str, Any]]
    other_invoices: Sequence[Mapping[str, Any]]
    other_requests: Sequence[Mapping[str, Any]]
    abuse: Sequence[Mapping[str, Any]]
    usage: Sequence[Mapping[str, Any]]
    incidents: Sequence[Mapping[str, Any]]
    document_count: int
    pauses: Sequence[Mapping[str, Any]]


def load_facts(request: RefundRequest, *, calendar: BusinessCalendar | None = None) -> f.RefundFacts:
    """Everything the engine judges, read in a fixed number of queries."""
    return build_facts(
        request_row(request), _fact_rows(request), policy=policy_facts(request.policy_version),
        calendar=calendar or business_calendar(),
    )


def _fact_rows(request: RefundRequest) -> FactRows:
    invoice: Invoice = request.invoice
    customer = request.customer
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("line_no").values_list(*LINE_COLUMNS))
    chargebacks = list(Chargeback.objects.filter(invoice=invoice).order_by(*ORDER["chargebacks"]).values("ref", "received_at", "outcome"))
    violations = list(Violation.objects.filter(customer=customer).order_by(*ORDER["violations"]).values("kind", "status", "opened_on"))
    other_invoices = list(
        Invoice.objects.filter(customer=customer)
        .exclude(pk=invoice.pk)
        .order_by(*ORDER["other_invoices"])
        .with_lines_total()
        # lines_total is annotated inside InvoiceQuerySet.with_lines_total, which the
        # django-stubs plugin cannot see through, so it reports the lookup as unknown.
        .values("number", "issued_on", "kind", "amount_paid", "lines_total")  # type: ignore[misc]
    )
    # The payout / credit columns ride along (LEFT JOINs, one row per request): what other requests
    # on this invoice already gave back lowers the cap, without another query.
    other_requests = list(
        RefundRequest.objects.filter(Q(customer=customer) | Q(invoice=invoice))
        .exclude(pk=request.pk)
        .order_by(*ORDER["other_requests"])
        .values(*OTHER_REQUEST_FIELDS)
    )
    abuse = list(AbuseReport.objects.filter(customer=customer).order_by(*ORDER["abuse"]).values("ref", "received_at"))
    usage = list(
        UsageRecord.objects.filter(invoice_line__invoice=invoice).order_by(*ORDER["usage"]).values("invoice_line__line_no", "at", "units")
    )
    plan_lines = [line for line in lines if line[1] == InvoiceLine.Category.PLAN]
    incidents: list[Mapping[str, Any]] = []
    if request.reason == "service_unavailability" and plan_lines:
        # A plan line that names no service covers the whole Service: every incident counts.
        # Names compare case-insensitively, as in policy.sla.covers_service: `video` counts for `Video`.
        services = {line[5].strip().lower() for line in plan_lines}
        incidents_qs = Incident.objects.all()
        if "" not in services:
            incidents_qs = incidents_qs.alias(service_key=Lower(Trim("service"))).filter(service_key__in=services)
        incidents = list(incidents_qs.order_by(*ORDER["incidents"]).values("ref", "service", "start", "end", "cause"))
    # Section 3: only documents of an accepted type count as supporting documentation.
    document_count = RefundDocument.objects.filter(request=request, content_type__in=ACCEPTED_TYPES).count()
    pauses = list(InformationRequest.objects.filter(request=request).order_by(*ORDER["pauses"]).values("requested_at", "answered_at"))

    return FactRows(
        lines=lines, chargebacks=chargebacks, violations=violations, other_invoices=other_invoices,
        other_requests=other_requests, abuse=abuse, usage=usage, incidents=incidents,
        document_count=document_count, pauses=pauses,
    )


def build_facts(
    row: RequestRow, rows: FactRows, *, policy: PolicyVersionFacts, calendar: BusinessCalendar
) -> f.RefundFacts:
    """The engine's facts from the rows read for one request (one by one or in a batch).

    Choice columns come back from the database as plain ``str``; each ``cast`` to one of the
    policy's Literal types below is checked at run time by the fact's ``__post_init__``.
    """
    other_requests = rows.other_requests
    return f.RefundFacts(
        request=f.RequestFacts(
            reference=row.reference,
            reason=cast("f.Reason", row.reason),
            received_at=row.received_at,
            requester_email=row.requester_email,
            requested_amount=row.requested_amount,
            currency=row.currency,
            document_count=rows.document_count,
            verified_overcharge=row.verified_overcharge,
            info_pauses=tuple(
                f.InfoPause(
                    requested_on=local_date(p["requested_at"]),
                    answered_on=local_date(p["answered_at"]) if p["answered_at"] else None,
                )
                for p in rows.pauses
            ),
        ),
        invoice=f.InvoiceFacts(
            number=row.invoice_number,
            customer_id=str(row.customer_id),
            customer_email=row.customer_email,
            issued_on=row.invoice_issued_on,
            kind=cast("f.InvoiceKind", row.invoice_kind),
            payment_method=cast("f.PaymentMethod", row.invoice_payment_method),
            currency=row.invoice_currency,
            amount_paid=row.invoice_amount_paid,
            lines=tuple(_line_facts(line) for line in rows.lines),
            chargebacks=tuple(
                f.Chargeback(
                    ref=c["ref"],
                    received_at=c["received_at"],
                    outcome=cast("f.ChargebackOutcome | None", c["outcome"] or None),
                )
                for c in rows.chargebacks
            ),
            earlier_refunds=settled_refunds(r for r in other_requests if r["invoice_id"] == row.invoice_id),
        ),
        customer=f.CustomerFacts(
            status=cast("f.CustomerStatus", row.customer_status),
            identity_verified=row.customer_identity_verified,
            # As Customer.all_emails: the primary address first, all lower-cased.
            emails=(row.customer_email.lower(), *(e.lower() for e in row.customer_other_emails or [])),
            violations=tuple(
                f.Violation(
                    kind=cast("f.ViolationKind", v["kind"]),
                    status=cast("f.ViolationStatus", v["status"]),
                    opened_on=v["opened_on"],
                )
                for v in rows.violations
            ),
            other_invoices=tuple(f.OtherInvoice(**i) for i in rows.other_invoices),
            refund_requests=tuple(
                f.OtherRequest(
                    reference=r["reference"],
                    invoice_number=r["invoice__number"],
                    reason=cast("f.Reason", r["reason"]),
                    state=cast("f.RequestState", r["state"]),
                    received_at=r["received_at"],
                )
                for r in other_requests
            ),
            abuse_reports=tuple(f.AbuseReport(ref=a["ref"], received_at=a["received_at"]) for a in rows.abuse),
        ),
        policy=policy,
        calendar=calendar,
        usage=tuple(
            f.UsageRecord(line_no=u["invoice_line__line_no"], at=u["at"], units=u["units"]) for u in rows.usage
        ),
        incidents=tuple(
            f.Incident(ref=i["ref"], service=i["service"], start=i["start"], end=i["end"], cause=i["cause"])
            for i in rows.incidents
        ),
    )


def run_evaluation(
    request: RefundRequest, *, now: dt.datetime | None = None, calendar: BusinessCalendar | None = None
) -> Evaluation:
    return evaluate(load_facts(request, calendar=calendar), now=now or timezone.now())


def evaluate_and_store(
    request: RefundRequest, *, now: dt.datetime | None = None, calendar: BusinessCalendar | None = None
) -> Evaluation:
    """Evaluate and keep the snapshot on the request (caller holds the transaction)."""
    now = now or timezone.now()
    result = run_evaluation(request, now=now, calendar=calendar)
    snapshot = result.to_dict()
    snapshot["evaluated_at"] = now.isoformat()
    if request.state not in OPEN_STATES and request.evaluated_at is not None:
        # After a decision the snapshot it was made on stays as it was: the approved
        # amount was checked against it, and reports show what the decision saw.
        return result
    fields = apply_result(request, result, snapshot, now)
    RefundRequest.objects.filter(pk=request.pk).update(**{name: getattr(request, name) for name in fields}, updated_at=now)
    return result


STORED_FIELDS = ["evaluation", "evaluated_at", "recommendation", "refundable_amount", "evaluation_codes", "review_due_at"]


def apply_result(request: RefundRequest, result: Evaluation, snapshot: dict[str, Any], now: dt.datetime) -> list[str]:
    """Set the stored evaluation on ``request`` (not saved); returns the fields set."""
    request.evaluation = snapshot
    request.evaluated_at = now
    request.recommendation = result.recommendation
    request.refundable_amount = result.refundable_amount
    request.evaluation_codes = list(snapshot["codes"])
    request.review_due_at = result.review_due_at
    return STORED_FIELDS
