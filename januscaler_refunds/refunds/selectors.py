"""Reads for the review console: the queue, deadlines at render time, and the review page.

Every function here reads; writes live in ``services.py``. The queue's cost is a fixed
number of queries per page (asserted in tests/console): the rows come with their customer,
invoice, assignee and policy version joined, and the business-day calendar is loaded once
for the whole page, not per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from januscaler_refunds.billing.models import ZERO, Invoice, PolicyVersion
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.policy.calendar import BusinessCalendar, end_of_day, local_date
from januscaler_refunds.policy.codes import REASON_CODES
from januscaler_refunds.policy.engine import deadline_status
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    AccountCredit,
    InformationRequest,
    Payout,
    Reason,
    RefundRequest,
    State,
)
from januscaler_refunds.refunds.roles import AGENT, MANAGER

# States whose review clock runs; information_requested is paused (policy-decisions.md, "Time").
CLOCK_RUNNING = (State.SUBMITTED, State.UNDER_REVIEW)


@dataclass(frozen=True)
class DeadlineView:
    status: str  # "ok" | "near" | "overdue" | "paused"
    days_left: int | None
    due: dt.date | None

    @property
    def overdue_by(self) -> int:
        return -self.days_left if self.days_left and self.days_left < 0 else 0


def queue_queryset(queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    return queryset.select_related("customer", "invoice", "assignee", "policy_version")


def review_deadline_view(
    request: RefundRequest, *, calendar: BusinessCalendar, today: dt.date
) -> DeadlineView | None:
    """The review clock of an open request as the console shows it, computed from ``review_due_at``."""
    if request.state not in OPEN_STATES or request.review_due_at is None:
        return None
    due = local_date(request.review_due_at)
    if request.state == State.INFO_REQUESTED:
        return DeadlineView("paused", None, due)
    threshold = request.policy_version.near_deadline_business_days
    status, left = deadline_status(due, today, calendar=calendar, near_threshold=threshold)
    return DeadlineView(status, left, due)


def attach_deadlines(requests: Iterable[RefundRequest], *, calendar: BusinessCalendar | None = None) -> None:
    """Set ``console_deadline`` on each row, loading the calendar once for all of them."""
    rows = list(requests)
    calendar = calendar or business_calendar()
    today = local_date(timezone.now())
    for row in rows:
        row.console_deadline = review_deadline_view(row, calendar=calendar, today=today)  # type: ignore[attr-defined]


def deadline_status_filter(status: str, *, calendar: BusinessCalendar | None = None) -> Q:
    """A ``Q`` selecting running-clock requests in ``status`` (ok / near / overdue) today.

    Due dates are business days, so "at most N business days left" is "due by the end of the
    N-th business day after today". Each policy version may set its own N.
    """
    calendar = calendar or business_calendar()
    now = timezone.now()
    today = local_date(now)
    running = Q(state__in=CLOCK_RUNNING, review_due_at__isnull=False)
    if status == "overdue":
        return running & Q(review_due_at__lt=now)
    near = Q()
    for threshold in PolicyVersion.objects.values_list("near_deadline_business_days", flat=True).distinct():
        cutoff = end_of_day(calendar.add_business_days(today, threshold))
        near |= Q(policy_version__near_deadline_business_days=threshold, review_due_at__lte=cutoff)
    if status == "near":
        return running & Q(review_due_at__gte=now) & near
    return running & Q(review_due_at__gte=now) & ~near


def agents() -> QuerySet[Any]:
    """People who work the queue (for the assignee filter and "assign to...")."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=[AGENT, MANAGER]) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )


# --- the review page ---------------------------------------------------------------------


def pending_information_request(request: RefundRequest) -> InformationRequest | None:
    return request.information_requests.filter(answered_at__isnull=True).order_by("-requested_at").first()


def customer_history(request: RefundRequest) -> dict[str, Any]:
    """What the billing team knows about the customer beyond this request (one query per list)."""
    customer = request.customer
    invoices = []
    for invoice in Invoice.objects.filter(customer=customer).exclude(pk=request.invoice_id).with_lines_total().order_by("-issued_on"):
        total = invoice.lines_total  # type: ignore[attr-defined]
        if invoice.amount_paid <= 0 and total > 0:
            paid_state = "unpaid"
        elif invoice.amount_paid < total:
            paid_state = "partly paid"
        else:
            paid_state = "paid"
        invoices.append({"invoice": invoice, "total": total, "paid_state": paid_state})
    earlier = list(
        RefundRequest.objects.filter(customer=customer)
        .exclude(pk=request.pk)
        .select_related("invoice")
        .order_by("-received_at")
    )
    guarantees = [
        r for r in earlier
        if r.reason == Reason.MONEY_BACK_GUARANTEE and r.state in (State.APPROVED, State.PAID, State.CREDITED)
    ]
    ledger = list(customer.ledger.order_by("-created_at"))
    # What the customer owes: positive entries add to it (policy section 6.3). SQLite may hand
    # the sum back without its decimal places, so fix them for display.
    balance = Decimal(customer.ledger.aggregate(total=Sum("amount"))["total"] or ZERO).quantize(Decimal("0.01"))
    return {
        "invoices": invoices,
        "earlier_requests": earlier,
        "guarantees_used": guarantees,
        "violations": list(customer.violations.all()),
        "abuse_reports": list(customer.abuse_reports.all()),
        "chargebacks": list(
            Chargeback.objects.filter(invoice__customer=customer).select_related("invoice").order_by("-received_at")
        ),
        "ledger": ledger,
        "balance": balance,
    }


# Verdicts of policy.clauses: ✓ passes, ✗ blocks, ? waits for information.
_MARKS = {"pass": "✓", "fail": "✗", "needs_information": "?", "note": "i", "not_applicable": "–"}


def evaluation_checklist(request: RefundRequest) -> dict[str, Any]:
    """The stored evaluation snapshot, shaped for the checklist and the amount breakdown."""
    snapshot = request.evaluation or {}
    clauses = []
    for clause in snapshot.get("clauses", []):
        verdict = str(clause.get("verdict", ""))
        clauses.append({**clause, "mark": _MARKS.get(verdict, "?"), "tone": verdict})
    codes = []
    for code in snapshot.get("codes", []):
        info = REASON_CODES.get(code)
        codes.append({
            "code": code,
            "section": info.section if info else "",
            "effect": str(info.effect) if info else "",
            "description": info.description if info else "",
        })
    lines = [
        {**line, "allowed_dec": Decimal(line["allowed"]), "amount_dec": Decimal(line["amount"])}
        for line in snapshot.get("lines", [])
    ]
    return {
        "clauses": clauses,
        "codes": codes,
        "lines": lines,
        "lines_total": sum((line["allowed_dec"] for line in lines), ZERO),
        "amount_paid": snapshot.get("amount_paid"),
        # Section 4.4: the cap is paid less what earlier requests on the invoice paid out or credited
        # (absent from snapshots made before this reading: then the cap is the amount paid).
        "earlier_refunded": Decimal(snapshot.get("earlier_refunded") or 0),
        "refund_cap": snapshot.get("refund_cap", snapshot.get("amount_paid")),
        "amount_explanation": snapshot.get("amount_explanation", ""),
        "evaluated_at": request.evaluated_at,
        "policy_version": snapshot.get("policy_version", ""),
    }


def review_page(request: RefundRequest) -> dict[str, Any]:
    """Everything the review page shows besides the request's own fields."""
    calendar = business_calendar()
    return {
        "deadline": review_deadline_view(request, calendar=calendar, today=local_date(timezone.now())),
        "pending_info": pending_information_request(request),
        "checklist": evaluation_checklist(request),
        "history": customer_history(request),
        "documents": list(request.documents.select_related("uploaded_by")),
        "notes": list(request.notes.select_related("author")),
        "customer_messages": list(request.messages.all()),
        "log": list(request.log.select_related("actor")),
        "payout": Payout.objects.filter(request=request).select_related("recorded_by").first(),
        "credit": AccountCredit.objects.filter(request=request).select_related("granted_by").first(),
    }
