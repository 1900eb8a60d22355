"""Deadline truth at read time: what every page shows is computed from the stored due dates and
today's business calendar when the page is read, never from the scan's stored status columns.

Why: the scan runs every few minutes, so its columns are stale right after an import, a transition
or a start-up (issue 11: "Reviews overdue 0" on the index while the queue showed 127 overdue).
The due dates themselves (``review_due_at``, ``payout_due_at``, ``evidence_due_at``) are written by
the services in the same transaction as the change, so they are always current.

How it stays cheap: the calendar lives in Python, so a page asks it once for the few *moments* that
matter today (the start of today; the start of the (T+1)-th business day after today for each near
threshold T) and the database compares the due columns with them. Every status is then a plain
range predicate on an indexed column (the partial indexes over open / approved rows), whatever the
number of rows, and a page costs a fixed number of queries: the company holidays, the policy
versions (few), and its own counts or rows.

Definitions (policy-decisions.md, "Time"): business days left = business days strictly after today
up to and including the due date; "near" = at most T left, the due date included (T is the policy
version's ``near_deadline_business_days``); "overdue" = today is after the due date. While
information is requested the review clock is paused when the version says so
(``pause_clock_on_info_request``); such requests are neither near nor overdue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.utils import timezone

from januscaler_refunds.billing.models import CompanyHoliday, PolicyVersion
from januscaler_refunds.policy.calendar import BusinessCalendar, local_date, start_of_day
from januscaler_refunds.refunds.models import DeadlineStatus, RefundRequest, State

OK, NEAR, OVERDUE, PAUSED = DeadlineStatus.OK.value, DeadlineStatus.NEAR.value, DeadlineStatus.OVERDUE.value, "paused"
STATUSES = (OK, NEAR, OVERDUE)
# Review clock runs in these states; information_requested runs only if the version does not pause.
CLOCK_RUNNING = (State.SUBMITTED, State.UNDER_REVIEW)


@dataclass(frozen=True)
class Rating:
    """One deadline as a page shows it."""

    kind: str  # "review" | "payout" | "evidence"
    status: str  # "ok" | "near" | "overdue" | "paused"
    days_left: int | None  # business days left; negative: minus the business days overdue
    due: dt.date | None

    @property
    def overdue_by(self) -> int:
        return -self.days_left if self.days_left and self.days_left < 0 else 0


@dataclass(frozen=True)
class DeadlineClock:
    """The moments of today a page compares due columns with, computed once per page."""

    now: dt.datetime
    today: dt.date
    calendar: BusinessCalendar
    overdue_before: dt.datetime  # 00:00 today: a due moment before it is overdue
    near_before: dict[int, dt.datetime]  # threshold T -> 00:00 of the (T+1)-th business day after today
    versions: dict[int, tuple[int, bool]] = field(default_factory=dict)  # pk -> (threshold, pauses)
    evidence_near_before: dt.datetime | None = None
    _days_left: dict[dt.date, int] = field(default_factory=dict, compare=False, repr=False)

    # --- which versions ---------------------------------------------------------------------

    def _by_threshold(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for pk, (threshold, _) in self.versions.items():
            groups[threshold].append(pk)
        return groups

    def _pausing(self) -> list[int]:
        return [pk for pk, (_, pauses) in self.versions.items() if pauses]

    def _near_q(self, due_field: str) -> Q:
        """Due before the near moment of the request's version (no version filter when all
        versions share one threshold, the usual case: a bare range predicate on the index)."""
        groups = self._by_threshold()
        if len(groups) <= 1:
            threshold = next(iter(groups), 2)
            return Q(**{f"{due_field}__lt": self.near_moment(threshold)})
        near = Q()
        for threshold, ids in groups.items():
            near |= Q(policy_version_id__in=ids, **{f"{due_field}__lt": self.near_moment(threshold)})
        return near

    def _far_q(self, due_field: str) -> Q:
        """The complement of ``_near_q`` among rows with a due date: due on or after the near
        moment of the request's version; a bare lower bound when all versions share a threshold."""
        groups = self._by_threshold()
        if len(groups) <= 1:
            threshold = next(iter(groups), 2)
            return Q(**{f"{due_field}__gte": self.near_moment(threshold)})
        far = Q()
        for threshold, ids in groups.items():
            far |= Q(policy_version_id__in=ids, **{f"{due_field}__gte": self.near_moment(threshold)})
        earliest = min(self.near_moment(threshold) for threshold in groups)
        return Q(**{f"{due_field}__gte": earliest}) & far

    def near_moment(self, threshold: int) -> dt.datetime:
        moment = self.near_before.get(threshold)
        if moment is None:  # a version created after this clock was built
            moment = start_of_day(self.calendar.add_business_days(self.today, threshold + 1))
        return moment

    # --- review deadline ----------------------------------------------------------------------

    def review_running(self) -> Q:
        running = Q(state__in=CLOCK_RUNNING)
        not_pausing = [pk for pk, (_, pauses) in self.versions.items() if not pauses]
        if not_pausing:
            running |= Q(state=State.INFO_REQUESTED, policy_version_id__in=not_pausing)
        return running & Q(review_due_at__isnull=False)

    def review_paused(self) -> Q:
        return Q(state=State.INFO_REQUESTED, policy_version_id__in=self._pausing())

    def review_q(self, status: str) -> Q:
        """Requests whose review deadline is ``status`` (ok / near / overdue / paused) today."""
        if status == PAUSED:
            return self.review_paused()
        return self.review_running() & self._status_q("review_due_at", status)

    # --- payout deadline ----------------------------------------------------------------------

    def payout_q(self, status: str) -> Q:
        """Approved requests whose payout deadline is ``status`` (ok / near / overdue) today."""
        return Q(state=State.APPROVED, payout_due_at__isnull=False) & self._status_q("payout_due_at", status)

    def _status_q(self, due_field: str, status: str) -> Q:
        if status == OVERDUE:
            return Q(**{f"{due_field}__lt": self.overdue_before})
        not_overdue = Q(**{f"{due_field}__gte": self.overdue_before})
        if status == NEAR:
            return not_overdue & self._near_q(due_field)
        if status == OK:
            # "Not near" as a lower bound on the due column (NOT(due < x) would be a filter the
            # index cannot start from: ~1.3 s over the open rows at 1M, issue 14).
            return not_overdue & self._far_q(due_field)
        raise ValueError(f"unknown deadline status {status!r}; expected one of {STATUSES}")

    # --- one row (badges, the review banner) --------------------------------------------------

    def rate(self, due_at: dt.datetime, *, kind: str, threshold: int) -> Rating:
        """The same comparisons as the ``Q`` objects above, for one due moment."""
        if due_at < self.overdue_before:
            status = OVERDUE
        elif due_at < self.near_moment(threshold):
            status = NEAR
        else:
            status = OK
        due = local_date(due_at)
        return Rating(kind, status, self.business_days_left(due), due)

    def business_days_left(self, due: dt.date) -> int:
        """``calendar.business_days_between(today, due)``, remembered per date for this clock.

        A page of 50 rows asks for a few distinct dates; rows overdue by months would otherwise
        walk the calendar day by day for each row."""
        known = self._days_left.get(due)
        if known is None:
            known = business_days_between(self.calendar, self.today, due)
            self._days_left[due] = known
        return known

    def rate_request(self, request: RefundRequest) -> Rating | None:
        """The deadline a request is working against: review while open, payout while approved.

        Reads ``request.policy_version`` (select it with the rows)."""
        threshold, pauses = self._version_of(request)
        if request.state in (*CLOCK_RUNNING, State.INFO_REQUESTED) and request.review_due_at is not None:
            if request.state == State.INFO_REQUESTED and pauses:
                return Rating("review", PAUSED, None, local_date(request.review_due_at))
            return self.rate(request.review_due_at, kind="review", threshold=threshold)
        if request.state == State.APPROVED and request.payout_due_at is not None:
            return self.rate(request.payout_due_at, kind="payout", threshold=threshold)
        return None

    def _version_of(self, request: RefundRequest) -> tuple[int, bool]:
        known = self.versions.get(request.policy_version_id) if request.policy_version_id else None
        if known is not None:
            return known
        if request.policy_version_id is None:
            return 2, True  # the model's defaults
        version = request.policy_version
        return version.near_deadline_business_days, version.pause_clock_on_info_request

    # --- dispute evidence -------------------------------------------------------------------

    def evidence_level(self) -> Case:
        """An open dispute's evidence level today ("" / near / overdue), as a SQL expression."""
        return Case(
            When(state="open", evidence_due_at__lt=self.overdue_before, then=Value(OVERDUE)),
            When(state="open", evidence_due_at__lt=self.evidence_near_before, then=Value(NEAR)),
            default=Value(""),
            output_field=CharField(),
        )

    def evidence_q(self, level: str) -> Q:
        if level == OVERDUE:
            return Q(state="open", evidence_due_at__lt=self.overdue_before)
        if level == NEAR:
            return Q(state="open", evidence_due_at__gte=self.overdue_before,
                     evidence_due_at__lt=self.evidence_near_before)
        raise ValueError(f"unknown evidence level {level!r}; expected near or overdue")


def business_days_between(calendar: BusinessCalendar, start: dt.date, end: dt.date) -> int:
    """``calendar.business_days_between`` in O(weeks + holidays) instead of one step per day:
    the weekdays in (start, end] minus the holidays among them (same sign convention)."""
    if end < start:
        return -business_days_between(calendar, end, start)
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    weekdays = weeks * 5
    weekday = start.weekday()
    for offset in range(1, rest + 1):
        if (weekday + offset) % 7 < 5:
            weekdays += 1
    holidays: set[dt.date] = {day for day in calendar.company_holidays if start < day <= end}
    for year in range(start.year, end.year + 1):
        holidays.update(day for day in calendar.public_holidays(year) if start < day <= end)
    return weekdays - sum(1 for day in holidays if day.weekday() < 5)


# Calendars by their company holidays: public holidays are computed once per year per process
# (the ``holidays`` package builds a table per call), while the company holidays are still read on
# every page, so a holiday added in the admin shows at once.
_CALENDARS: dict[frozenset[dt.date], BusinessCalendar] = {}


def page_calendar() -> BusinessCalendar:
    """Today's business calendar for a page (``evaluation.business_calendar``): one query."""
    company = frozenset(CompanyHoliday.objects.values_list("date", flat=True))
    known = _CALENDARS.get(company)
    if known is None:
        if len(_CALENDARS) > 32:
            _CALENDARS.clear()
        _CALENDARS[company] = known = BusinessCalendar(company)
    return known


def deadline_clock(*, now: dt.datetime | None = None, calendar: BusinessCalendar | None = None) -> DeadlineClock:
    """Two queries (company holidays, policy versions) unless ``calendar`` is given."""
    now = now or timezone.now()
    today = local_date(now)
    calendar = calendar or page_calendar()
    versions = {
        pk: (threshold, pauses)
        for pk, threshold, pauses in PolicyVersion.objects.values_list(
            "pk", "near_deadline_business_days", "pause_clock_on_info_request"
        )
    }
    thresholds = {threshold for threshold, _ in versions.values()} or {2}
    evidence_near = settings.CHARGEBACK_EVIDENCE_NEAR_BUSINESS_DAYS
    return DeadlineClock(
        now=now,
        today=today,
        calendar=calendar,
        overdue_before=start_of_day(today),
        near_before={t: start_of_day(calendar.add_business_days(today, t + 1)) for t in thresholds},
        versions=versions,
        evidence_near_before=start_of_day(calendar.add_business_days(today, evidence_near + 1)),
    )


def count_each(querysets: dict[str, QuerySet[RefundRequest]]) -> dict[str, int]:
    """Many COUNT(*)s in one round trip, each planned on its own (so each can use the partial
    index that fits its predicate, unlike one aggregate with FILTERs, which reads every row)."""
    if not querysets:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for queryset in querysets.values():
        sql, query_params = queryset.order_by().values("pk").query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted)")
        params.extend(query_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(value or 0) for key, value in zip(querysets, row, strict=True)}


def clock_for(http_request: Any) -> DeadlineClock:
    """Today's clock, built once per HTTP request (an admin page asks for its queryset several times)."""
    clock = getattr(http_request, "_deadline_clock", None)
    if clock is None:
        clock = deadline_clock()
        http_request._deadline_clock = clock
    return clock
