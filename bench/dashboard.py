"""The admin index cards and the reports dashboard, and the day figures' upkeep (issue 14, item 3).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py --only dashboard

Pages are measured through Django's test client as a superuser (``bench.common.page_figure``: the
floor is the page's heaviest SQL statement alone). The day figures (reports/aggregates.py) are kept
by triggers; the jobs measured here are the beat task's fold of the deltas and a full rebuild (the
migration's backfill), each against the floor of reading the requests they summarise
(``SELECT count(*)`` over the same rows). Without migration reports 0004 (read-only databases) the
dashboard falls back to the live computation and the upkeep figures are skipped.
"""

from __future__ import annotations

import time

from bench.common import Figure, _client, load_average, page_figure


def _job_figures(repeats: int) -> list[Figure]:
    from django.db import connection, transaction

    from januscaler_refunds.reports import aggregates

    fold = Figure("day figures: fold the deltas (beat task)", unit="ms")
    rebuild = Figure("day figures: rebuild from every request", unit="s")
    for _ in range(repeats):
        fold.load.append(load_average())
        started = time.perf_counter()
        aggregates.fold()
        fold.runs.append(time.perf_counter() - started)
        rebuild.load.append(load_average())
        started = time.perf_counter()
        rows = aggregates.rebuild()
        rebuild.runs.append(time.perf_counter() - started)
    with connection.cursor() as cursor:
        for _ in range(repeats):
            started = time.perf_counter()
            cursor.execute(f"SELECT count(*) FROM {aggregates.TABLE}")
            fold.floor.append(time.perf_counter() - started)
            with transaction.atomic():
                started = time.perf_counter()
                cursor.execute("SELECT count(*), count(decided_at), count(settled_at), "
                               "sum(jsonb_array_length(evaluation_codes)) FROM refunds_refundrequest")
                rebuild.floor.append(time.perf_counter() - started)
    fold.note = "floor: count the table (nothing to fold between two runs: the steady state)"
    rebuild.note = f"{rows:,} figure rows; floor: one pass over the requests' fact columns"
    return [fold, rebuild]


def figures(repeats: int) -> list[Figure]:
    from januscaler_refunds.reports import aggregates

    client = _client()
    kept = aggregates.available()
    result = [
        page_figure(client, "admin index (cards)", "/admin/", repeats),
        page_figure(client, "dashboard", "/admin/reports/dashboard/", repeats,
                    note="day figures" if kept else "live (no day figures: reports 0004 not migrated)"),
    ]
    if kept:
        result += _job_figures(repeats)
    return result
