"""The adapter between the database and the pure policy engine.

``load_facts`` reads everything the engine needs for one request in a fixed,
small number of queries (asserted in tests), whatever the customer's history;
``evaluate_and_store`` runs the engine and keeps the result on the request as a
snapshot (with the policy version and the time it was made), which is what the
review console and the reports show.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

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


def _line_facts(line: InvoiceLine) -> f.InvoiceLine:
    return f.InvoiceLine(
        line_no=line.line_no,
        category=cast("f.LineCategory", line.category),
        description=line.description,
        amount=line.amount,
        units=line.units,
        service=line.service or None,
        period_start=line.period_start if line.period_end else None,
        period_end=line.period_end if line.period_start else None,
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


def load_facts(request: RefundRequest, *, calendar: BusinessCalendar | None = None) -> f.RefundFacts:
    """Everything the engine judges, read in a fixed number of queries.

    Choice columns come back from the database as plain ``str``; each ``cast`` to one of the
    policy's Literal types below is checked at run time by the fact's ``__post_init__``.
    """
    invoice: Invoice = request.invoice
    customer = request.customer
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("line_no"))
    chargebacks = list(Chargeback.objects.filter(invoice=invoice).values("ref", "received_at", "outcome"))
    violations = list(Violation.objects.filter(customer=customer).values("kind", "status", "opened_on"))
    other_invoices = list(
        Invoice.objects.filter(customer=customer)
        .exclude(pk=invoice.pk)
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
        .values(
            "reference", "invoice_id", "invoice__number", "reason", "state", "received_at",
            "payout__amount", "payout__currency", "payout__paid_at",
            "credit__amount", "credit__currency", "credit__created_at",
        )
    )
    abuse = list(AbuseReport.objects.filter(customer=customer).values("ref", "received_at"))
    usage = list(
        UsageRecord.objects.filter(invoice_line__invoice=invoice).values("invoice_line__line_no", "at", "units")
    )
    plan_lines = [line for line in lines if line.category == InvoiceLine.Category.PLAN]
    incidents: list[Mapping[str, Any]] = []
    if request.reason == "service_unavailability" and plan_lines:
        # A plan line that names no service covers the whole Service: every incident counts.
        # Names compare case-insensitively, as in policy.sla.covers_service: `video` counts for `Video`.
        services = {line.service.strip().lower() for line in plan_lines}
        incidents_qs = Incident.objects.all()
        if "" not in services:
            incidents_qs = incidents_qs.alias(service_key=Lower(Trim("service"))).filter(service_key__in=services)
        incidents = list(incidents_qs.values("ref", "service", "start", "end", "cause"))
    # Section 3: only documents of an accepted type count as supporting documentation.
    document_count = RefundDocument.objects.filter(request=request, content_type__in=ACCEPTED_TYPES).count()
    pauses = list(InformationRequest.objects.filter(request=request).values("requested_at", "answered_at"))

    return f.RefundFacts(
        request=f.RequestFacts(
            reference=request.reference,
            reason=cast("f.Reason", request.reason),
            received_at=request.received_at,
            requester_email=request.requester_email,
            requested_amount=request.requested_amount,
            currency=request.currency,
            document_count=document_count,
            verified_overcharge=request.verified_overcharge,
            info_pauses=tuple(
                f.InfoPause(
                    requested_on=local_date(p["requested_at"]),
                    answered_on=local_date(p["answered_at"]) if p["answered_at"] else None,
                )
                for p in pauses
            ),
        ),
        invoice=f.InvoiceFacts(
            number=invoice.number,
            customer_id=str(customer.pk),
            customer_email=customer.email,
            issued_on=invoice.issued_on,
            kind=cast("f.InvoiceKind", invoice.kind),
            payment_method=cast("f.PaymentMethod", invoice.payment_method),
            currency=invoice.currency,
            amount_paid=invoice.amount_paid,
            lines=tuple(_line_facts(line) for line in lines),
            chargebacks=tuple(
                f.Chargeback(
                    ref=c["ref"],
                    received_at=c["received_at"],
                    outcome=cast("f.ChargebackOutcome | None", c["outcome"] or None),
                )
                for c in chargebacks
            ),
            earlier_refunds=settled_refunds(r for r in other_requests if r["invoice_id"] == invoice.pk),
        ),
        customer=f.CustomerFacts(
            status=cast("f.CustomerStatus", customer.status),
            identity_verified=customer.identity_verified,
            emails=tuple(customer.all_emails),
            violations=tuple(
                f.Violation(
                    kind=cast("f.ViolationKind", v["kind"]),
                    status=cast("f.ViolationStatus", v["status"]),
                    opened_on=v["opened_on"],
                )
                for v in violations
            ),
            other_invoices=tuple(f.OtherInvoice(**i) for i in other_invoices),
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
            abuse_reports=tuple(f.AbuseReport(ref=a["ref"], received_at=a["received_at"]) for a in abuse),
        ),
        policy=policy_facts(request.policy_version),
        calendar=calendar or business_calendar(),
        usage=tuple(
            f.UsageRecord(line_no=u["invoice_line__line_no"], at=u["at"], units=u["units"]) for u in usage
        ),
        incidents=tuple(
            f.Incident(ref=i["ref"], service=i["service"], start=i["start"], end=i["end"], cause=i["cause"])
            for i in incidents
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
    request.evaluation = snapshot
    request.evaluated_at = now
    request.recommendation = result.recommendation
    request.refundable_amount = result.refundable_amount
    request.evaluation_codes = list(snapshot["codes"])
    request.review_due_at = result.review_due_at
    fields = ["evaluation", "evaluated_at", "recommendation", "refundable_amount", "evaluation_codes", "review_due_at"]
    RefundRequest.objects.filter(pk=request.pk).update(**{name: getattr(request, name) for name in fields}, updated_at=now)
    return result
