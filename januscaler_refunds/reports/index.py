"""The admin index (/admin/): a start-of-day view for the person logged in.

Registered as ``UNFOLD["DASHBOARD_CALLBACK"]``; the page is ``templates/admin/index.html``.
Counts come from a fixed number of queries whatever the size of the queue: today's deadline clock
(company holidays, policy versions), one round trip for every refund-request count, one over open
triage items, one over today's alerts, plus one for the short list of the most urgent requests.
Deadline counts are computed when the page is read, with the very ``Q`` objects the queue's
deadline filters use (deadlines/readtime.py), so a card and the list it opens always agree, from
the first page view after an import, a transition or a start-up (no waiting for the scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, F, Q
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.refunds.models import OPEN_STATES, RefundRequest, State

URGENT_ROWS = 10

VIEW_REQUESTS = "refunds.view_refundrequest"
REVIEW_REQUESTS = "refunds.review_refundrequest"
RECORD_PAYOUTS = "refunds.record_payout_refundrequest"
VIEW_TRIAGE = "intake.view_triageitem"
VIEW_ALERTS = "deadlines.view_alert"


@dataclass(frozen=True)
class Kpi:
    key: str
    title: str
    value: int
    href: str
    icon: str
    alarm: bool = False  # shown in red when the value is not zero


def _url(name: str, **query: str) -> str:
    try:
        base = reverse(name)
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode(query)}" if query else base


def _queue(**query: str) -> str:
    return _url("admin:refunds_refundrequest_changelist", **query)


def request_counts(user: Any, clock: readtime.DeadlineClock | None = None, *, live: bool | None = None
                   ) -> dict[str, int]:
    """Every refund-request count of the page. On PostgreSQL from the ``inplay`` day figures
    (reports/aggregates.py: one query over a few thousand rows, whatever the number of requests);
    otherwise (``live``) in one round trip of index-backed counts, one subquery each (the partial
    indexes over the rows in play), not a FILTER over every row. Both give the same numbers
    (tests/reports/test_dashboard_aggregates.py)."""
    from januscaler_refunds.reports import aggregates

    clock = clock or readtime.deadline_clock()
    if live is None:
        live = not aggregates.available()
    if not live:
        return _kept_counts(user, aggregates.in_play(clock))
    requests = RefundRequest.objects.all()
    is_open = Q(state__in=OPEN_STATES)
    return readtime.count_each({
        "mine": requests.filter(is_open, assignee_id=user.pk),
        "unassigned": requests.filter(is_open, assignee__isnull=True),
        "open": requests.filter(is_open),
        "review_near": requests.filter(clock.review_q(readtime.NEAR)),
        "review_overdue": requests.filter(clock.review_q(readtime.OVERDUE)),
        "awaiting_payout": requests.filter(state=State.APPROVED),
        "payout_near": requests.filter(clock.payout_q(readtime.NEAR)),
        "payout_overdue": requests.filter(clock.payout_q(readtime.OVERDUE)),
    })


def _kept_counts(user: Any, rows: list[tuple[str, str, int, int]]) -> dict[str, int]:
    counts = dict.fromkeys(("mine", "unassigned", "open", "review_near", "review_overdue", "awaiting_payout",
                            "payout_near", "payout_overdue"), 0)
    for state, rating, assignee, n in rows:
        if state == State.APPROVED:
            counts["awaiting_payout"] += n
            if rating in (readtime.NEAR, readtime.OVERDUE):
                counts[f"payout_{rating}"] += n
            continue
        counts["open"] += n
        if assignee == 0:
            counts["unassigned"] += n
        elif assignee == user.pk:
            counts["mine"] += n
        if rating in (readtime.NEAR, readtime.OVERDUE):
            counts[f"review_{rating}"] += n
    return counts


def urgent_requests(clock: readtime.DeadlineClock | None = None) -> list[RefundRequest]:
    """The open requests whose review is due first (one query), each with its rating today."""
    rows = list(
        RefundRequest.objects.filter(state__in=OPEN_STATES)
        .select_related("customer")
        .only("id", "reference", "state", "recommendation", "review_due_at", "policy_version_id",
              "customer__name")
        .order_by(F("review_due_at").asc(nulls_last=True), "received_at", "id")[:URGENT_ROWS]
    )
    clock = clock or readtime.deadline_clock()
    for row in rows:
        row.console_deadline = clock.rate_request(row)  # type: ignore[attr-defined]
    return rows


def open_triage_count() -> int:
    from januscaler_refunds.intake.models import TriageItem

    return int(TriageItem.objects.aggregate(n=Count("id", filter=Q(status=TriageItem.Status.OPEN)))["n"] or 0)


def alerts_today_count() -> int:
    from januscaler_refunds.deadlines.models import Alert

    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return int(Alert.objects.aggregate(n=Count("id", filter=Q(created_at__gte=start)))["n"] or 0)


def _request_kpis(user: Any, counts: dict[str, int]) -> list[Kpi]:
    review = [
        Kpi("unassigned", "Unassigned open requests", counts["unassigned"], _queue(assignee="unassigned"), "person_off"),
        Kpi("review_near", "Reviews near deadline", counts["review_near"], _queue(deadline="near"), "schedule",
            alarm=True),
        Kpi("review_overdue", "Reviews overdue", counts["review_overdue"], _queue(deadline="overdue"), "alarm",
            alarm=True),
    ]
    if user.has_perm(REVIEW_REQUESTS):
        review.insert(0, Kpi("mine", "My open requests", counts["mine"], _queue(assignee="mine"), "person"))
    approved = _queue(state__exact=State.APPROVED)
    payout = [
        Kpi("awaiting_payout", "Approved, awaiting payout", counts["awaiting_payout"], approved, "payments"),
        Kpi("payout_near", "Payouts near deadline", counts["payout_near"], _queue(payout_deadline="near"),
            "schedule", alarm=True),
        Kpi("payout_overdue", "Payouts overdue", counts["payout_overdue"], _queue(payout_deadline="overdue"),
            "alarm", alarm=True),
    ]
    # Finance works the payouts; everyone else the reviews first.
    return payout + review if user.has_perm(RECORD_PAYOUTS) else review + payout


def _flagged(row: RefundRequest) -> bool:
    rating = getattr(row, "console_deadline", None)
    return rating is not None and rating.status in (readtime.NEAR, readtime.OVERDUE)


def _urgent_table(rows: list[RefundRequest]) -> dict[str, Any]:
    due_format = "%d %b %Y %H:%M"
    return {
        "headers": ["Reference", "Customer", "State", "Recommendation", "Review due"],
        "rows": [
            [
                format_html('<a class="text-primary-600 font-semibold" href="{}">{}</a>',
                            reverse("admin:refunds_refundrequest_change", args=[row.pk]), row.reference),
                row.customer.name,
                row.get_state_display(),
                row.get_recommendation_display() or "—",
                format_html(
                    '<span class="{}">{}</span>',
                    "text-red-600 dark:text-red-400 font-semibold"
                    if _flagged(row) else "",
                    timezone.localtime(row.review_due_at).strftime(due_format) if row.review_due_at else "—",
                ),
            ]
            for row in rows
        ],
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """Add the start-of-day figures the user may see to the admin index context."""
    user = request.user
    kpis: list[Kpi] = []
    urgent: dict[str, Any] | None = None
    if user.has_perm(VIEW_REQUESTS):
        clock = readtime.deadline_clock()
        kpis = _request_kpis(user, request_counts(user, clock))
        urgent = _urgent_table(urgent_requests(clock))
    if user.has_perm(VIEW_TRIAGE):
        kpis.append(Kpi("triage_open", "Open triage items", open_triage_count(),
                        _url("admin:intake_triageitem_changelist", status__exact="open"), "move_to_inbox"))
    if user.has_perm(VIEW_ALERTS):
        today = timezone.localdate()
        kpis.append(Kpi("alerts_today", "Deadline alerts raised today", alerts_today_count(),
                        _url("admin:deadlines_alert_changelist", created_at__year=str(today.year),
                             created_at__month=str(today.month), created_at__day=str(today.day)),
                        "notifications_active"))
    context.update(
        {
            "start_kpis": kpis,
            "start_urgent": urgent,
            "start_queue_url": _queue() if urgent is not None else "",
            "start_dashboard_url": _url("reports:dashboard") if user.has_perm(VIEW_REQUESTS) else "",
        }
    )
    return context
