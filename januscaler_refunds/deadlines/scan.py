"""The deadline scan: a fixed number of set-based queries, whatever the number of requests.

The business-day calendar lives in Python (public holidays from the ``holidays`` package, company
holidays from the admin), so the scan asks it once per run for the few *moments* that matter
today and lets the database compare the stored ``review_due_at`` / ``payout_due_at`` columns with
them:

* overdue: due before 00:00 today (Kolkata), i.e. the due date is in the past;
* near: not overdue, and due before 00:00 of the (T+1)-th business day after today, i.e. at most
  T business days left, the due date itself included (T: the version's near threshold);
* ok: later than that.

Business days left is a step function of the due date that rises by one at each business day, so
it is a ``CASE`` over the business days between the earliest and the latest stored due date.

The threshold belongs to the policy version; versions are few, so the scan groups them by
(threshold, clock pause) and runs one UPDATE per group and deadline kind.

Information requested: while the customer is asked for information the review clock stops
(policy-decisions.md, "Time"), and every business day of waiting pushes the due date out by one,
so the days left stand still. The scan therefore leaves ``business_days_left`` as it was when the
clock stopped, clears the status (the request is neither near nor overdue while paused) and raises
no review alert for it. When the customer answers, the evaluation moves ``review_due_at`` out by
the paused days and the next scan rates the request again (a new due date may alert again).
Versions that do not pause the clock are rated like any other open request.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, IntegerField, Max, Min, Q, Value, When
from django.utils import timezone

from januscaler_refunds.billing.models import PolicyVersion
from januscaler_refunds.deadlines import scan_postgres
from januscaler_refunds.deadlines.models import Alert, AlertNotification
from januscaler_refunds.deadlines.services import enqueue_notifications, stranded_notification_ids
from januscaler_refunds.policy.calendar import BusinessCalendar, local_date, start_of_day
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import (
    FINAL_STATES,
    OPEN_STATES,
    DeadlineStatus,
    RefundRequest,
    State,
)
from januscaler_refunds.refunds.roles import MANAGER

log = logging.getLogger(__name__)

# Business days left is exact within this many calendar days either side of today; a due date
# further out (old imported history) gets the value at the edge. Keeps the CASE small.
DAYS_LEFT_SPAN = 400
# A Postgres advisory-lock key of our own: a second scan at the same moment skips instead of
# queueing behind the first (two beats, a redelivered task).
SCAN_LOCK_KEY = 0x4A5344_0006


@dataclass(frozen=True)
class ScanResult:
    skipped: bool = False
    updated: int = 0
    alerts: int = 0
    notifications: int = 0

    def __str__(self) -> str:
        if self.skipped:
            return "skipped: another scan holds the lock"
        return f"{self.updated} rows rated, {self.alerts} alerts, {self.notifications} notifications queued"


@dataclass(frozen=True)
class Moments:
    """The moments a scan compares due columns with, computed once per run."""

    today: dt.date
    overdue_before: dt.datetime
    near_before: dict[int, dt.datetime]  # threshold -> start of the (T+1)-th business day after today


def moments_for(today: dt.date, thresholds: set[int], calendar: BusinessCalendar) -> Moments:
    return Moments(
        today=today,
        overdue_before=start_of_day(today),
        near_before={t: start_of_day(calendar.add_business_days(today, t + 1)) for t in thresholds},
    )


def status_expression(field: str, moments: Moments, threshold: int) -> Case:
    return Case(
        When(**{f"{field}__lt": moments.overdue_before}, then=Value(DeadlineStatus.OVERDUE)),
        When(**{f"{field}__lt": moments.near_before[threshold]}, then=Value(DeadlineStatus.NEAR)),
        default=Value(DeadlineStatus.OK),
    )


def days_left_expression(
    field: str, earliest: dt.date, latest: dt.date, today: dt.date, calendar: BusinessCalendar
) -> Case:
    """``calendar.business_days_between(today, due date)`` as a CASE over the due column."""
    earliest = max(earliest, today - dt.timedelta(days=DAYS_LEFT_SPAN))
    latest = min(max(latest, earliest), today + dt.timedelta(days=DAYS_LEFT_SPAN))
    value = calendar.business_days_between(today, earliest)
    whens = []
    day = earliest
    while day < latest:
        day += dt.timedelta(days=1)
        if calendar.is_business_day(day):
            # Due before this business day starts: the count has not reached it yet.
            whens.append(When(**{f"{field}__lt": start_of_day(day)}, then=Value(value)))
            value += 1
    return Case(*whens, default=Value(value), output_field=IntegerField())


def _changed(field: str, status: Case, left: Case) -> Q:
    # Write only rows whose rating moves: most scans of a day change nothing.
    return ~Q(**{field: status}) | ~Q(business_days_left=left)


def _version_groups() -> dict[tuple[int, bool], list[int]]:
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for pk, threshold, pauses in PolicyVersion.objects.values_list(
        "pk", "near_deadline_business_days", "pause_clock_on_info_request"
    ):
        groups[(threshold, pauses)].append(pk)
    return groups


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _insert_alerts(*, kind: str, due_field: str, status_field: str, states: tuple[str, ...], token: str,
                   now: dt.datetime) -> int:
    """INSERT ... SELECT ... ON CONFLICT DO NOTHING: one statement, and the unique constraint
    (not this code) decides what is new. Returns how many alerts it created."""
    db_now = connection.ops.adapt_datetimefield_value(now)
    placeholders = ", ".join(["%s"] * len(states))
    sql = f"""
        INSERT INTO {_table(Alert)}
            (subject_type, subject_id, request_id, kind, level, due_at, created_at, token, subject, body)
        SELECT %s, r.id, r.id, %s, r.{status_field}, r.{due_field}, %s, %s, '', ''
        FROM {_table(RefundRequest)} r
        WHERE r.state IN ({placeholders}) AND r.{status_field} IN (%s, %s) AND r.{due_field} IS NOT NULL
        ON CONFLICT DO NOTHING
    """
    params = [Alert.SubjectType.REFUND_REQUEST, kind, db_now, token, *states,
              DeadlineStatus.NEAR, DeadlineStatus.OVERDUE]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def insert_refund_notifications(*, token: str, now: dt.datetime) -> list[int]:
    """One notification per new alert to the assignee (the queue address when unassigned or the
    assignee has no usable address) and, for overdue alerts, one to every active manager.

    Returns the new notifications' ids (RETURNING: no second query joining alerts, which
    PostgreSQL plans badly for rows inserted in the same transaction)."""
    user_model = get_user_model()
    users = _table(user_model)
    user_groups = connection.ops.quote_name(user_model.groups.through._meta.db_table)  # type: ignore[attr-defined]
    groups = connection.ops.quote_name(user_model.groups.field.related_model._meta.db_table)  # type: ignore[attr-defined]
    db_now = connection.ops.adapt_datetimefield_value(now)
    columns = "(alert_id, recipient, status, attempts, created_at, error)"
    to_assignee = f"""
        INSERT INTO {_table(AlertNotification)} {columns}
        SELECT a.id,
               CASE WHEN u.is_active AND u.email <> '' THEN u.email ELSE %s END,
               %s, 0, %s, ''
        FROM {_table(Alert)} a
        JOIN {_table(RefundRequest)} r ON r.id = a.request_id
        LEFT JOIN {users} u ON u.id = r.assignee_id
        WHERE a.token = %s
        ON CONFLICT DO NOTHING
        RETURNING id
    """
    to_managers = f"""
        INSERT INTO {_table(AlertNotification)} {columns}
        SELECT DISTINCT a.id, u.email, %s, 0, %s, ''
        FROM {_table(Alert)} a
        CROSS JOIN {users} u
        JOIN {user_groups} ug ON ug.user_id = u.id
        JOIN {groups} g ON g.id = ug.group_id
        WHERE a.token = %s AND a.level = %s AND g.name = %s AND u.is_active AND u.email <> ''
        ON CONFLICT DO NOTHING
        RETURNING id
    """
    pending = AlertNotification.Status.PENDING
    with connection.cursor() as cursor:
        cursor.execute(to_assignee, [settings.BILLING_QUEUE_EMAIL, pending, db_now, token])
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(to_managers, [pending, db_now, token, Alert.Level.OVERDUE, MANAGER])
        ids += [row[0] for row in cursor.fetchall()]
    return ids


def _test_delay() -> None:
    """Test-only: hold the scan's transaction open so a test can kill the worker mid-scan."""
    if not settings.DEADLINE_SCAN_TEST_DELAY:
        return
    if settings.DEADLINE_SCAN_TEST_MARKER:
        Path(settings.DEADLINE_SCAN_TEST_MARKER).write_text(str(os.getpid()))
    time.sleep(settings.DEADLINE_SCAN_TEST_DELAY)


def _rate_postgres(groups: dict[tuple[int, bool], list[int]], moments: Moments, calendar: BusinessCalendar, *,
                   token: str, now: dt.datetime) -> tuple[int, int, list[int]]:
    """Near the floor: see scan_postgres.py. Alerts only for rows whose rating changed, and their
    notifications, in the same statement as the rating."""
    days_left = scan_postgres.days_left_table(moments.today, calendar)
    updated = alerts = 0
    notified: list[int] = []
    for (threshold, pauses), version_ids in groups.items():
        for kind, states, paused in (
            ("review", list(OPEN_STATES), [State.INFO_REQUESTED] if pauses else []),
            ("payout", [State.APPROVED], []),
        ):
            written, raised, ids = scan_postgres.rate_and_alert(
                kind=kind, states=[str(s) for s in states], paused_states=[str(s) for s in paused],
                version_ids=version_ids, overdue_before=moments.overdue_before,
                near_before=moments.near_before[threshold], today=moments.today, days_left=days_left,
                token=token, now=now,
            )
            updated += written
            alerts += raised
            notified += ids
    scan_postgres.clear_stale()
    return updated, alerts, notified


def _rate_portable(groups: dict[tuple[int, bool], list[int]], moments: Moments, calendar: BusinessCalendar, *,
                   token: str, now: dt.datetime) -> tuple[int, int, list[int]]:
    """Any database: ORM UPDATEs with CASE expressions, then alerts for every flagged row and the
    notifications of the alerts this scan created (found by its token)."""
    today = moments.today
    updated = 0
    bounds = RefundRequest.objects.aggregate(
        review_min=Min("review_due_at", filter=Q(state__in=OPEN_STATES)),
        review_max=Max("review_due_at", filter=Q(state__in=OPEN_STATES)),
        payout_min=Min("payout_due_at", filter=Q(state=State.APPROVED)),
        payout_max=Max("payout_due_at", filter=Q(state=State.APPROVED)),
    )

    for (threshold, pauses), version_ids in groups.items():
        for kind_field, states, lo, hi in (
            ("review", [s for s in OPEN_STATES if not (pauses and s == State.INFO_REQUESTED)],
             bounds["review_min"], bounds["review_max"]),
            ("payout", [State.APPROVED], bounds["payout_min"], bounds["payout_max"]),
        ):
            if lo is None:
                continue
            due_field, status_field = f"{kind_field}_due_at", f"{kind_field}_deadline_status"
            status = status_expression(due_field, moments, threshold)
            left = days_left_expression(due_field, local_date(lo), local_date(hi), today, calendar)
            updated += (
                RefundRequest.objects.filter(
                    state__in=states, policy_version_id__in=version_ids, **{f"{due_field}__isnull": False}
                )
                .filter(_changed(status_field, status, left))
                .update(**{status_field: status, "business_days_left": left})
            )
        if pauses:
            # The clock stopped: no status, days left kept as they were when it stopped.
            RefundRequest.objects.filter(
                state=State.INFO_REQUESTED, policy_version_id__in=version_ids
            ).exclude(review_deadline_status="").update(review_deadline_status="")

    # Requests that left the states a deadline runs in lose its status.
    RefundRequest.objects.exclude(state__in=OPEN_STATES).exclude(review_deadline_status="").update(
        review_deadline_status=""
    )
    RefundRequest.objects.exclude(state=State.APPROVED).exclude(payout_deadline_status="").update(
        payout_deadline_status=""
    )
    RefundRequest.objects.filter(state__in=FINAL_STATES, business_days_left__isnull=False).update(
        business_days_left=None
    )

    alerts = _insert_alerts(kind=Alert.Kind.REVIEW, due_field="review_due_at",
                            status_field="review_deadline_status", states=tuple(OPEN_STATES),
                            token=token, now=now)
    alerts += _insert_alerts(kind=Alert.Kind.PAYOUT, due_field="payout_due_at",
                             status_field="payout_deadline_status", states=(State.APPROVED,),
                             token=token, now=now)
    return updated, alerts, insert_refund_notifications(token=token, now=now)


def scan_deadlines(*, now: dt.datetime | None = None, calendar: BusinessCalendar | None = None) -> ScanResult:
    """Rate every open request's review deadline and every approved request's payout deadline,
    raise an alert for each that is near or overdue (once per deadline and level), queue the
    notifications of the new alerts after commit and re-queue those the broker never took."""
    now = now or timezone.now()
    today = local_date(now)
    calendar = calendar or business_calendar()
    token = uuid.uuid4().hex
    updated = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SCAN_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return ScanResult(skipped=True)
        groups = _version_groups()
        moments = moments_for(today, {threshold for threshold, _ in groups}, calendar)
        if connection.vendor == "postgresql":
            updated, alerts, new = _rate_postgres(groups, moments, calendar, token=token, now=now)
        else:
            updated, alerts, new = _rate_portable(groups, moments, calendar, token=token, now=now)
        # New notifications, and older ones the broker refused, never got or lost.
        to_send = new + stranded_notification_ids(now=now, exclude=new)
        _test_delay()
        transaction.on_commit(lambda: enqueue_notifications(to_send))
    result = ScanResult(updated=updated, alerts=alerts, notifications=len(to_send))
    log.info("deadline scan %s: %s", today, result)
    return result
