"""Reads for reports: which requests an export covers, and the dashboard's figures.

The dashboard's history figures come from the day figures PostgreSQL keeps (reports/aggregates.py);
the functions below compute the same figures from the requests themselves (SQLite, and the check
that both agree). The queue table is rated when the page is read (deadlines/readtime.py).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, QueryDict
from django.test import RequestFactory

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.policy.calendar import KOLKATA, BusinessCalendar, start_of_day
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import (
    Reason,
    RefundRequest,
    State,
)
from januscaler_refunds.reports import aggregates
from januscaler_refunds.reports.resources import DECIDED_STATES, SETTLED_STATES

FORMAT_PARAM = "format"
APPROVED_STATES = (State.APPROVED, State.PAID, State.CREDITED)


# --- exports ------------------------------------------------------------------------------------


def queue_changelist(request: HttpRequest) -> ChangeList:
    """The review queue's ChangeList for this request's query string, minus our ``format`` parameter.

    Building it through the registered ModelAdmin means every list_filter, search field, date
    hierarchy and queryset restriction of the console applies to the export unchanged.
    """
    model_admin = admin.site._registry[RefundRequest]
    params = request.GET.copy()
    params.pop(FORMAT_PARAM, None)
    original = request.GET
    request.GET = params  # type: ignore[assignment]
    try:
        return model_admin.get_changelist_instance(request)
    finally:
        request.GET = original  # type: ignore[assignment]


def queue_query_string(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop(FORMAT_PARAM, None)
    return params.urlencode()


def queue_queryset_for(*, user: Any, query_string: str) -> QuerySet[RefundRequest]:
    """Rebuild the queue's queryset later (in a Celery task) from the stored query string and user."""
    request = RequestFactory().get("/admin/refunds/refundrequest/", QueryDict(query_string))
    request.user = user
    return queue_changelist(request).get_queryset(request)


def refund_requests_filtered(
    *,
    states: list[str] | None = None,
    reasons: list[str] | None = None,
    received_from: dt.date | None = None,
    received_to: dt.date | None = None,
) -> QuerySet[RefundRequest]:
    """The command's filters. Dates are Kolkata calendar dates, both ends inclusive."""
    qs = RefundRequest.objects.order_by("received_at", "id")
    if states:
        qs = qs.filter(state__in=states)
    if reasons:
        qs = qs.filter(reason__in=reasons)
    if received_from is not None:
        qs = qs.filter(received_at__gte=start_of_day(received_from))
    if received_to is not None:
        qs = qs.filter(received_at__lt=start_of_day(received_to + dt.timedelta(days=1)))
    return qs


def command_query_string(**options: Any) -> str:
    return urlencode([(k, v) for k, vs in options.items() for v in (vs if isinstance(vs, list) else [vs]) if v])


# --- dashboard ----------------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass
class Period:
    """This month (Kolkata) and the 12 calendar months ending with it."""

    today: dt.date
    months: list[dt.date] = field(init=False)

    def __post_init__(self) -> None:
        this = month_start(self.today)
        self.months = [add_months(this, -i) for i in range(11, -1, -1)]

    @property
    def this_month(self) -> dt.date:
        return self.months[-1]

    @property
    def start(self) -> dt.datetime:
        return start_of_day(self.months[0])

    @property
    def this_month_start(self) -> dt.datetime:
        return start_of_day(self.this_month)

    @property
    def end(self) -> dt.datetime:
        return start_of_day(add_months(self.this_month, 1))


def _month(value: dt.datetime | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.astimezone(KOLKATA).date()
    return value.replace(day=1)


def _rate(part: int, whole: int) -> Decimal | None:
    return None if not whole else (Decimal(part) * 100 / whole).quantize(Decimal("0.1"))


QUEUE_STATES = (State.SUBMITTED, State.UNDER_REVIEW, State.INFO_REQUESTED, State.APPROVED)


def _unrated_q(clock: readtime.DeadlineClock, state: str) -> Q:
    """Rows of ``state`` no deadline status applies to: no due date, or the review clock paused
    (information requested on a version that pauses it, or on a version this clock does not know)."""
    if state == State.APPROVED:
        return Q(payout_due_at__isnull=True)
    unrated = Q(review_due_at__isnull=True)
    if state == State.INFO_REQUESTED:
        running = [pk for pk, (_, pauses) in clock.versions.items() if not pauses]
        unrated |= ~Q(policy_version_id__in=running)
    return unrated


def dashboard_queue_kept(clock: readtime.DeadlineClock) -> list[dict[str, Any]]:
    """The same table from the ``inplay`` day figures (reports/aggregates.py): one small query."""
    table: dict[str, dict[str, int]] = {state: dict.fromkeys((*readtime.STATUSES, "other"), 0) for state in QUEUE_STATES}
    for state, rating, _assignee, n in aggregates.in_play(clock):
        table[state][rating] += n
    return [{"state": state.value, "label": state.label, **table[state], "total": sum(table[state].values())}
            for state in QUEUE_STATES]


def dashboard_queue(clock: readtime.DeadlineClock | None = None) -> list[dict[str, Any]]:
    """Requests still in play by state and deadline status *today*: the review deadline for open
    states, the payout deadline for approved ones. Rated when the page is read (deadlines/readtime.py,
    the very ``Q`` objects of the queue's deadline filters), never from the scan's stored columns.
    ``other``: the clock is paused (information requested) or there is no due date. The four
    partition the state's rows, so each row is counted once: one round trip of index-range counts
    over the covering index of the rows in play (deadlines migration 0004)."""
    clock = clock or readtime.deadline_clock()
    requests = RefundRequest.objects.all()
    counted: dict[str, QuerySet[RefundRequest]] = {}
    for state in QUEUE_STATES:
        in_state = requests.filter(state=state)
        for status in readtime.STATUSES:
            rated = clock.payout_q(status) if state == State.APPROVED else clock.review_q(status)
            counted[f"{state}:{status}"] = in_state.filter(rated)
        counted[f"{state}:other"] = in_state.filter(_unrated_q(clock, state))
    counts = readtime.count_each(counted)
    out = []
    for state in QUEUE_STATES:
        row = {status: counts[f"{state}:{status}"] for status in (*readtime.STATUSES, "other")}
        out.append({"state": state.value, "label": state.label, **row, "total": sum(row.values())})
    return out


def dashboard_monthly(period: Period) -> list[dict[str, Any]]:
    """Per month: requests received, approvals and denials decided (by decision date)."""
    received = (
        RefundRequest.objects.filter(received_at__gte=period.start, received_at__lt=period.end)
        .annotate(month=TruncMonth("received_at", tzinfo=KOLKATA))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    )
    decided = (
        RefundRequest.objects.filter(decided_at__gte=period.start, decided_at__lt=period.end, state__in=DECIDED_STATES)
        .annotate(month=TruncMonth("decided_at", tzinfo=KOLKATA))
        .values("month")
        .annotate(
            approvals=Count("id", filter=Q(state__in=APPROVED_STATES)),
            denials=Count("id", filter=Q(state=State.DENIED)),
        )
        .order_by()
    )
    by_month: dict[dt.date, dict[str, Any]] = {
        m: {"month": m, "requests": 0, "approvals": 0, "denials": 0} for m in period.months
    }
    for row in received:
        by_month[_month(row["month"])]["requests"] = row["n"]
    for decided_row in decided:
        by_month[_month(decided_row["month"])].update(
            approvals=decided_row["approvals"], denials=decided_row["denials"]
        )
    return list(by_month.values())


def dashboard_amounts(period: Period) -> dict[str, list[dict[str, Any]]]:
    """Per currency, per month: refunded (payouts) and credited (account credits) of the requests
    settled that month (by the request's settlement moment, which the payout service sets to the
    payout's paid moment), in the request's currency."""
    settled = (
        RefundRequest.objects.filter(state__in=SETTLED_STATES, settled_at__gte=period.start, settled_at__lt=period.end)
        .annotate(month=TruncMonth("settled_at", tzinfo=KOLKATA))
        .values("month", "currency")
        .annotate(refunded=Sum("payout__amount"), credited=Sum("credit__amount"))
        .order_by()
    )
    zero = Decimal("0.00")
    table: dict[str, dict[dt.date, dict[str, Any]]] = defaultdict(
        lambda: {m: {"month": m, "refunded": zero, "credited": zero} for m in period.months}
    )
    for row in settled:
        cell = table[row["currency"]][_month(row["month"])]
        cell["refunded"] = row["refunded"] or zero
        cell["credited"] = row["credited"] or zero
    return {currency: list(months.values()) for currency, months in sorted(table.items())}


def dashboard_reasons(period: Period) -> list[dict[str, Any]]:
    """Per reason, this month and the last 12 months: requests (received), approvals and denials
    (decided), refunded and credited per currency (settled). Two queries."""
    this = period.this_month_start

    def in_window(field_name: str, since: dt.datetime) -> Q:
        return Q(**{f"{field_name}__gte": since, f"{field_name}__lt": period.end})

    counts = (
        RefundRequest.objects.filter(Q(received_at__gte=period.start) | Q(decided_at__gte=period.start))
        .values("reason")
        .annotate(
            requests_month=Count("id", filter=in_window("received_at", this)),
            requests_year=Count("id", filter=in_window("received_at", period.start)),
            approvals_month=Count("id", filter=in_window("decided_at", this) & Q(state__in=APPROVED_STATES)),
            approvals_year=Count("id", filter=in_window("decided_at", period.start) & Q(state__in=APPROVED_STATES)),
            denials_month=Count("id", filter=in_window("decided_at", this) & Q(state=State.DENIED)),
            denials_year=Count("id", filter=in_window("decided_at", period.start) & Q(state=State.DENIED)),
        )
        .order_by()
    )
    money = (
        RefundRequest.objects.filter(state__in=SETTLED_STATES, settled_at__gte=period.start, settled_at__lt=period.end)
        .values("reason", "currency")
        .annotate(
            refunded_month=Sum("payout__amount", filter=Q(settled_at__gte=this)),
            refunded_year=Sum("payout__amount"),
            credited_month=Sum("credit__amount", filter=Q(settled_at__gte=this)),
            credited_year=Sum("credit__amount"),
        )
        .order_by("currency")
    )
    blank = {k: 0 for k in ("requests_month", "requests_year", "approvals_month", "approvals_year", "denials_month", "denials_year")}
    table: dict[str, dict[str, Any]] = {
        reason.value: {"reason": reason.value, "label": reason.label, **blank, "amounts": []} for reason in Reason
    }
    for row in counts:
        table[row["reason"]].update({k: v for k, v in row.items() if k != "reason"})
    zero = Decimal("0.00")
    for money_row in money:
        table[money_row["reason"]]["amounts"].append(
            {
                "currency": money_row["currency"],
                **{
                    k: money_row[k] or zero
                    for k in ("refunded_month", "refunded_year", "credited_month", "credited_year")
                },
            }
        )
    return list(table.values())


def dashboard_rates(period: Period, *, since: dt.datetime | None = None) -> dict[str, Any]:
    """Approval rate, and the share of reviews and payouts done within their deadlines, in one query.

    - approval rate: approvals / (approvals + denials) decided in the window;
    - reviews within deadline: decisions in the window made by the end of the review due date;
    - payouts within deadline: payouts and credits settled in the window by the end of the payout due date.
    """
    since = since or period.start
    decided = Q(decided_at__gte=since, decided_at__lt=period.end, state__in=DECIDED_STATES)
    settled = Q(settled_at__gte=since, settled_at__lt=period.end, state__in=SETTLED_STATES)
    agg = RefundRequest.objects.filter(decided | settled).aggregate(
        approvals=Count("id", filter=decided & Q(state__in=APPROVED_STATES)),
        denials=Count("id", filter=decided & Q(state=State.DENIED)),
        reviews=Count("id", filter=decided & Q(review_due_at__isnull=False)),
        reviews_met=Count("id", filter=decided & Q(decided_at__lte=F("review_due_at"))),
        payouts=Count("id", filter=settled & Q(payout_due_at__isnull=False)),
        payouts_met=Count("id", filter=settled & Q(settled_at__lte=F("payout_due_at"))),
    )
    return {
        **agg,
        "approval_rate": _rate(agg["approvals"], agg["approvals"] + agg["denials"]),
        "reviews_within_deadline": _rate(agg["reviews_met"], agg["reviews"]),
        "payouts_within_deadline": _rate(agg["payouts_met"], agg["payouts"]),
    }


def dashboard_median_days(period: Period, *, calendar: BusinessCalendar | None = None) -> dict[str, Any]:
    """Median business days from the received date to the decision date (approve/deny), Kolkata dates,
    policy calendar with company holidays: business days strictly after receipt up to the decision day."""
    calendar = calendar or business_calendar()
    pairs = RefundRequest.objects.filter(
        decided_at__gte=period.start, decided_at__lt=period.end, state__in=DECIDED_STATES
    ).values_list("received_at", "decided_at")
    this = period.this_month_start
    year: list[int] = []
    month: list[int] = []
    for received_at, decided_at in pairs.iterator(chunk_size=2000):
        assert decided_at is not None  # the filter above (decided_at__gte) excludes NULL
        days = calendar.business_days_between(
            received_at.astimezone(KOLKATA).date(), decided_at.astimezone(KOLKATA).date()
        )
        year.append(days)
        if decided_at >= this:
            month.append(days)
    return {
        "median_days_year": statistics.median(year) if year else None,
        "median_days_month": statistics.median(month) if month else None,
        "decisions_year": len(year),
    }


_CODES_SQL = {
    # The report's reason_codes rule: a decided request's decision codes, else its evaluation codes.
    "postgresql": """
        SELECT code, COUNT(*) FROM (
            SELECT jsonb_array_elements_text(
                CASE WHEN state IN %(decided)s THEN decision_codes::jsonb ELSE evaluation_codes::jsonb END
            ) AS code
            FROM refunds_refundrequest
            WHERE received_at >= %(start)s AND received_at < %(end)s
        ) AS codes GROUP BY code ORDER BY COUNT(*) DESC, code LIMIT %(limit)s
    """,
    "sqlite": """
        SELECT j.value AS code, COUNT(*) FROM refunds_refundrequest r,
            json_each(CASE WHEN r.state IN %(decided)s THEN r.decision_codes ELSE r.evaluation_codes END) j
        WHERE r.received_at >= %(start)s AND r.received_at < %(end)s
        GROUP BY j.value ORDER BY COUNT(*) DESC, j.value LIMIT %(limit)s
    """,
}


def dashboard_top_codes(period: Period, *, limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent reason codes on requests received in the last 12 months."""
    decided = tuple(sorted(s.value for s in DECIDED_STATES))
    sql = _CODES_SQL[connection.vendor]
    placeholders = ", ".join(["%s"] * len(decided))
    sql = sql.replace("%(decided)s", f"({placeholders})").replace("%(start)s", "%s").replace("%(end)s", "%s")
    sql = sql.replace("%(limit)s", "%s")
    start, end = period.start, period.end
    if connection.vendor == "sqlite":  # SQLite stores datetimes as UTC text
        start_p: Any = connection.ops.adapt_datetimefield_value(start)
        end_p: Any = connection.ops.adapt_datetimefield_value(end)
    else:
        start_p, end_p = start, end
    with connection.cursor() as cursor:
        cursor.execute(sql, [*decided, start_p, end_p, limit])
        return [{"code": code, "count": n} for code, n in cursor.fetchall()]


@dataclass
class Dashboard:
    period: Period
    queue: list[dict[str, Any]]
    monthly: list[dict[str, Any]]
    amounts: dict[str, list[dict[str, Any]]]
    reasons: list[dict[str, Any]]
    rates_year: dict[str, Any]
    rates_month: dict[str, Any]
    median: dict[str, Any]
    codes: list[dict[str, Any]]


def dashboard_build(*, today: dt.date, live: bool | None = None) -> Dashboard:
    """The dashboard's figures. History comes from the day figures PostgreSQL keeps
    (reports/aggregates.py) unless ``live`` (or on SQLite): then from the requests themselves.
    Both give the same numbers (tests/reports/test_dashboard_aggregates.py)."""
    period = Period(today)
    clock = readtime.deadline_clock()
    if live is None:
        live = not aggregates.available()
    if not live:
        return Dashboard(period=period, queue=dashboard_queue_kept(clock),
                         **aggregates.dashboard_history(period, calendar=clock.calendar))
    queue = dashboard_queue(clock)
    return Dashboard(
        period=period,
        queue=queue,
        monthly=dashboard_monthly(period),
        amounts=dashboard_amounts(period),
        reasons=dashboard_reasons(period),
        rates_year=dashboard_rates(period),
        rates_month=dashboard_rates(period, since=period.this_month_start),
        median=dashboard_median_days(period, calendar=clock.calendar),
        codes=dashboard_top_codes(period),
    )
