"""The deadline scan's PostgreSQL statements: as close to a bare UPDATE as the work allows (issue 14).

Measured against the floor (a business-day table and two bare ``UPDATE … FROM``), the portable scan
spent its time on what the floor does not do: a ``CASE`` of hundreds of branches per row for the
business days left, a second pass over the flagged rows to insert alerts, a full-table
``MIN``/``MAX`` for the bounds of that ``CASE``, and three full-table ``UPDATE`` scans to clear the
ratings of requests that left the open / approved states. Here instead:

* business days left is an array lookup: ``(days::int[])[due_date - today + SPAN + 1]`` with the
  array of ``business_days_between(today, today + k)`` for k in −SPAN…SPAN built once in Python
  (no bounds query, O(1) per row);
* one statement per (version group, deadline kind) rates, writes only the rows whose rating
  changes, inserts the alerts of exactly those rows and the notifications of exactly the alerts it
  inserted (``WITH changed AS (UPDATE … RETURNING), alerted AS (INSERT INTO alert … SELECT FROM
  changed … RETURNING), notified AS (INSERT INTO notification … SELECT FROM alerted)``): a warm
  scan touches no alert at all, and no statement joins back through the alert token (PostgreSQL
  plans a join to rows inserted in the same transaction blind, as if the table were empty);
* the paused information requests are handled in the same pass as the other open requests;
* stale ratings are cleared through the partial index ``refund_stale_deadline_rating`` (migration
  deadlines 0003), which holds only rows whose rating no longer applies: normally none, so the
  clearing costs an index probe instead of a scan of every request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection

from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds.models import FINAL_STATES, OPEN_STATES

SPAN = 400  # business days left is exact within this many calendar days of today, clamped beyond

TABLE = "refunds_refundrequest"
ALERTS = "deadlines_alert"
NOTIFICATIONS = "deadlines_alertnotification"

# Rows whose stored rating no longer applies (the request left the states the deadline runs in).
# Must stay word for word the predicate of the partial index in migration deadlines 0003, so the
# planner can prove the index usable.
STALE = (  # the same text as migrations/0003_stale_deadline_rating_index.py (a test compares them)
    "(review_deadline_status <> '' AND state NOT IN ('submitted', 'under_review', 'info_requested')) "
    "OR (payout_deadline_status <> '' AND state <> 'approved') "
    "OR (business_days_left IS NOT NULL AND state IN ('denied', 'paid', 'credited', 'withdrawn'))"
)
assert set(OPEN_STATES) == {"submitted", "under_review", "info_requested"}
assert set(FINAL_STATES) == {"denied", "paid", "credited", "withdrawn"}


def days_left_table(today: dt.date, calendar: BusinessCalendar) -> list[int]:
    """``business_days_between(today, today + k)`` for k in −SPAN…SPAN, in one walk each way."""
    ahead = [0]
    day = today
    for _ in range(SPAN):
        day += dt.timedelta(days=1)
        ahead.append(ahead[-1] + (1 if calendar.is_business_day(day) else 0))
    behind = [0]
    day = today
    for _ in range(SPAN):
        # A due date k days back: minus the business days strictly after it up to and including today.
        behind.append(behind[-1] - (1 if calendar.is_business_day(day) else 0))
        day -= dt.timedelta(days=1)
    return list(reversed(behind[1:])) + ahead


def recipients_sql() -> tuple[str, str]:
    """(users table, SQL of the active managers' addresses): the overdue alerts' extra recipients."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    quote = connection.ops.quote_name
    users = quote(user_model._meta.db_table)
    user_groups = quote(user_model.groups.through._meta.db_table)  # type: ignore[attr-defined]
    groups = quote(user_model.groups.field.related_model._meta.db_table)  # type: ignore[attr-defined]
    managers = (f"SELECT DISTINCT u.email FROM {users} u JOIN {user_groups} ug ON ug.user_id = u.id "
                f"JOIN {groups} g ON g.id = ug.group_id "
                "WHERE g.name = %(manager)s AND u.is_active AND u.email <> ''")
    return users, managers


def rate_and_alert(
    *,
    kind: str,
    states: list[str],
    paused_states: list[str],
    version_ids: list[int],
    overdue_before: dt.datetime,
    near_before: dt.datetime,
    today: dt.date,
    days_left: list[int],
    token: str,
    now: dt.datetime,
) -> tuple[int, int, list[int]]:
    """Rate one deadline kind for one group of policy versions, in one statement; returns
    (rows written, alerts raised, ids of the new alerts' notifications).

    ``paused_states``: states whose clock is stopped (information requested, for versions that
    pause it): their status is cleared and their days left kept, and they raise no alert.

    The statement rates and writes only the rows whose rating changes (``changed``), inserts an
    alert for each of those that is near or overdue unless the unique constraint already holds one
    (``alerted``: ON CONFLICT DO NOTHING, so the database decides, whatever runs twice), and inserts
    each new alert's notifications from ``alerted``'s own RETURNING rows (``notified``): one to the
    assignee (the queue address when unassigned or without a usable address) and, for overdue
    alerts, one to every active manager. An alert that already existed returns no row, so its
    notifications are never inserted twice; (alert, recipient) is unique besides."""
    from django.conf import settings

    from januscaler_refunds.refunds.roles import MANAGER

    due = f"{kind}_due_at"
    status_column = f"{kind}_deadline_status"
    running = "r.state = ANY(%(running)s)"
    status = (f"CASE WHEN NOT {running} THEN '' WHEN r.{due} < %(overdue)s THEN 'overdue' "
              f"WHEN r.{due} < %(near)s THEN 'near' ELSE 'ok' END")
    offset = (f"LEAST(GREATEST((r.{due} AT TIME ZONE 'Asia/Kolkata')::date - %(today)s::date, {-SPAN}), {SPAN})"
              f" + {SPAN + 1}")
    left = f"CASE WHEN NOT {running} THEN r.business_days_left ELSE (%(days_left)s::int[])[{offset}] END"
    users, managers = recipients_sql()
    sql = f"""
        WITH changed AS (
            UPDATE {TABLE} r SET {status_column} = {status}, business_days_left = {left}
            WHERE r.state = ANY(%(states)s) AND r.policy_version_id = ANY(%(versions)s) AND r.{due} IS NOT NULL
              AND (r.{status_column} IS DISTINCT FROM {status} OR r.business_days_left IS DISTINCT FROM {left})
            RETURNING r.id, r.{status_column} AS level, r.{due} AS due_at, r.assignee_id
        ), alerted AS (
            INSERT INTO {ALERTS}
                (subject_type, subject_id, request_id, kind, level, due_at, created_at, token, subject, body)
            SELECT 'refund_request', c.id, c.id, %(kind)s, c.level, c.due_at, %(now)s, %(token)s, '', ''
            FROM changed c WHERE c.level IN ('near', 'overdue')
            ON CONFLICT DO NOTHING
            RETURNING id, request_id, level
        ), notified AS (
            INSERT INTO {NOTIFICATIONS} (alert_id, recipient, status, attempts, created_at, error)
            SELECT m.alert_id, m.recipient, 'pending', 0, %(now)s, '' FROM (
                SELECT a.id AS alert_id,
                       CASE WHEN u.is_active AND u.email <> '' THEN u.email ELSE %(queue)s END AS recipient
                FROM alerted a JOIN changed c ON c.id = a.request_id LEFT JOIN {users} u ON u.id = c.assignee_id
                UNION
                SELECT a.id, m.email FROM alerted a CROSS JOIN ({managers}) m WHERE a.level = 'overdue'
            ) m
            ON CONFLICT DO NOTHING
            RETURNING id
        )
        SELECT (SELECT count(*) FROM changed), (SELECT count(*) FROM alerted), ARRAY(SELECT id FROM notified)
    """
    params: dict[str, Any] = {
        "running": [s for s in states if s not in paused_states],
        "states": states,
        "versions": version_ids,
        "overdue": overdue_before,
        "near": near_before,
        "today": today,
        "days_left": days_left,
        "kind": kind,
        "now": now,
        "token": token,
        "queue": settings.BILLING_QUEUE_EMAIL,
        "manager": MANAGER,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written, alerts, notified = cursor.fetchone()
    return int(written), int(alerts), sorted(notified)


def clear_stale() -> int:
    """Clear the ratings of requests that left the states their deadline runs in (index-backed)."""
    sql = f"""
        UPDATE {TABLE} SET
            review_deadline_status = CASE WHEN state IN ('submitted', 'under_review', 'info_requested')
                                          THEN review_deadline_status ELSE '' END,
            payout_deadline_status = CASE WHEN state = 'approved' THEN payout_deadline_status ELSE '' END,
            business_days_left = CASE WHEN state IN ('denied', 'paid', 'credited', 'withdrawn')
                                      THEN NULL ELSE business_days_left END
        WHERE {STALE}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return max(cursor.rowcount, 0)

