"""The deadline scan's PostgreSQL statements: the pieces that must agree with the rest."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection

from januscaler_refunds.deadlines import scan_postgres
from januscaler_refunds.policy.calendar import BusinessCalendar


def test_the_stale_rating_predicate_is_the_partial_index_predicate() -> None:
    migration = importlib.import_module("januscaler_refunds.deadlines.migrations.0003_stale_deadline_rating_index")
    # The planner uses the index only if the query's WHERE implies its predicate: keep them equal.
    assert migration.STALE == scan_postgres.STALE


@pytest.mark.parametrize("today", [dt.date(2026, 5, 22), dt.date(2026, 5, 23), dt.date(2026, 11, 24)])
def test_the_days_left_table_is_the_calendar_count(today: dt.date) -> None:
    calendar = BusinessCalendar([dt.date(2026, 5, 29)])
    table = scan_postgres.days_left_table(today, calendar)
    assert len(table) == 2 * scan_postgres.SPAN + 1
    for offset in range(-60, 61):
        due = today + dt.timedelta(days=offset)
        assert table[offset + scan_postgres.SPAN] == calendar.business_days_between(today, due), due


@pytest.mark.django_db
def test_clearing_stale_ratings_reads_the_partial_index_not_the_table() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the index-backed clearing runs on PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty test table would be seq-scanned anyway
        cursor.execute(f"EXPLAIN SELECT id FROM refunds_refundrequest WHERE {scan_postgres.STALE}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "refund_stale_deadline_rating" in plan, plan
