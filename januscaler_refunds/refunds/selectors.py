"""Reads for the review console: the queue, deadlines at render time, and the review page.

Every function here reads; writes live in ``services.py``. The queue's cost is a fixed
number of queries per page (asserted in tests/console): the rows come with their customer,
invoice, assignee and policy version joined, and the business-day calendar is loaded once
for the whole page, not per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet, Sum

from januscaler_refunds.billing.models import ZERO, Invoice
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.deadlines import readtime
from januscaler_refunds.policy.codes import REASON_CODES
from januscaler_refunds.refunds.models import (
    OPEN_STATES,  # noqa: F401 - re-exported: the admin reads selectors.OPEN_STATES
    AccountCredit,
    InformationRequest,
    Payout,
    Reason,
    RefundRequest,
    State,
)
from januscaler_refunds.refunds.roles import AGENT, MANAGER

# States whose review clock runs; information_requested is paused (policy-decisions.md, "Time").
CLOCK_RUNNING = readtime.CLOCK_RUNNING

# What a page shows for a deadline: computed when read (deadlines/readtime.py), never the scan's
# stored status columns, so it is right from the first page view after any change.
DeadlineView = readtime.Rating


def queue_queryset(queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    return queryset.select_related("customer", "invoice", "assignee", "policy_version")


def review_deadline_view(
    request: RefundRequest, *, clock: readtime.DeadlineClock | None = None
) -> DeadlineView | None:
    """The deadline a request works against as the console shows it: the review clock while open
    (paused while the customer is asked, if the version says so), the payout clock while approved."""
    return (clock or readtime.deadline_clock()).rate_request(request)


def attach_deadlines(requests: Iterable[RefundRequest], *, clock: readtime.DeadlineClock | None = None) -> None:
    """Set ``console_deadline`` on each row, building today's clock once for all of them."""
    rows = list(requests)
    clock = clock or readtime.deadline_clock()
    for row in rows:
        row.console_deadline = clock.rate_request(row)  # type: ignore[attr-defined]


def deadline_status_filter(
    status: str, *, kind: str = "review", clock: readtime.DeadlineClock | None = None
) -> Q:
    """A ``Q`` selecting requests whose ``kind`` ("review" / "payout") deadline is ``status``
    (ok / near / overdue; "paused" for review) today: range predicates on the due column."""
    clock = clock or readtime.deadline_clock()
    return clock.payout_q(status) if kind == "payout" else clock.review_q(status)


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
    return {
        "deadline": review_deadline_view(request),
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
