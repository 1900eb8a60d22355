"""The deadline scan against its floor, in one run on PostgreSQL (a benchmark, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_deadlines \\
        .venv/bin/python bench/deadline_scan.py --rows 100000 [--rows 1000000] [--no-write]
    DATABASE_URL=... .venv/bin/python bench/run.py --only deadline_scan   # figures(repeats), no seeding

Seeds N refund requests with ``INSERT … SELECT generate_series`` (40% open with review due dates
spread over twelve weeks around today, 5% approved with payout due dates around today, the rest
decided, each with a ~4 KB evaluation), then measures three times, interleaved:

* floor, cold: what PostgreSQL alone does — a business-day table for today (one row per due day:
  status, business days left) and two bare ``UPDATE … FROM`` statements (review, payout) writing
  every row whose rating changes, after the stored ratings were reset (every open row changes);
* floor, warm: the same two UPDATEs again (nothing changes);
* scan, cold / warm: ``deadlines.scan.scan_deadlines()`` after the same reset (alerts deleted too),
  and again at the same moment. Sending is not measured (the enqueue is a no-op).

Reports medians and min–max, the ratio to the floor and the scan's query count, and (unless
``--no-write``) replaces the "Deadline scan" section of BENCHMARKS.md. Standalone: needs only this
project and a PostgreSQL database it may fill (it is dropped of refund requests first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.common import Figure  # noqa: E402
from januscaler_refunds.billing.models import Customer, Invoice, PolicyVersion  # noqa: E402
from januscaler_refunds.deadlines import scan  # noqa: E402
from januscaler_refunds.deadlines.models import Alert, AlertNotification  # noqa: E402
from januscaler_refunds.policy.calendar import end_of_day, local_date  # noqa: E402
from januscaler_refunds.policy.engine import deadline_status  # noqa: E402
from januscaler_refunds.refunds.evaluation import business_calendar  # noqa: E402
from januscaler_refunds.refunds.models import RefundRequest  # noqa: E402

REPEATS = 3
TABLE = RefundRequest._meta.db_table
CLAUSE = '{{"clause": "clause-{0}", "section": "2.{0}", "verdict": "pass", "text": "{1}"}}'
EVALUATION = '{{"clauses": [{}], "codes": ["within_guarantee"], "lines": []}}'.format(
    ", ".join(CLAUSE.format(i, "x" * 120) for i in range(28))
)


def seed(n: int) -> None:
    """N requests in a few statements: one template row, then INSERT … SELECT generate_series."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Alert._meta.db_table}, {AlertNotification._meta.db_table} CASCADE")
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
    version = PolicyVersion.objects.order_by("effective_date").first()
    customer, _ = Customer.objects.get_or_create(email="bench@example.com", defaults={"name": "Bench"})
    invoice, _ = Invoice.objects.get_or_create(
        number="INV-BENCH", defaults=dict(customer=customer, issued_on=dt.date(2025, 6, 1), kind="initial",
                                          payment_method="card", currency="USD", amount_paid=100),
    )
    template = RefundRequest.objects.bulk_create([RefundRequest(
        reference="BENCH-TEMPLATE", customer=customer, invoice=invoice, requester_email=customer.email,
        reason="other", received_at=timezone.now(), currency="USD", policy_version=version,
    )])[0]
    today_end = end_of_day(local_date(timezone.now()))
    overrides = {
        "reference": "'B' || g",
        # 40% open (submitted, under review, information requested), 5% approved, 55% decided.
        "state": "CASE WHEN g %% 20 < 3 THEN 'submitted' WHEN g %% 20 < 6 THEN 'under_review' "
                 "WHEN g %% 20 < 8 THEN 'info_requested' WHEN g %% 20 = 8 THEN 'approved' "
                 "WHEN g %% 20 < 15 THEN 'paid' ELSE 'denied' END",
        "review_due_at": "CASE WHEN g %% 20 < 9 THEN %(end)s + ((g * 7) %% 84 - 42) * interval '1 day' "
                         "ELSE %(end)s - ((g * 7) %% 700 + 42) * interval '1 day' END",
        "payout_due_at": "CASE WHEN g %% 20 = 8 THEN %(end)s + ((g * 3) %% 28 - 14) * interval '1 day' END",
        "received_at": "%(end)s - ((g * 7) %% 700 + 60) * interval '1 day'",
        "evaluation": "%(evaluation)s::jsonb",
        "review_deadline_status": "''",
        "payout_deadline_status": "''",
        "business_days_left": "NULL",
    }
    columns = [f.column for f in RefundRequest._meta.concrete_fields if f.column != "id"]
    select = ", ".join(overrides.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} ({quoted}) SELECT {select} FROM {TABLE} t "
            f"CROSS JOIN generate_series(1, %(n)s) g WHERE t.id = %(id)s",
            {"end": today_end, "evaluation": EVALUATION, "n": n, "id": template.pk},
        )
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [template.pk])
        cursor.execute(f"VACUUM ANALYZE {TABLE}")


def reset() -> None:
    """Every stored rating back to empty, alerts gone, dead rows vacuumed: the next run is cold."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Alert._meta.db_table}, {AlertNotification._meta.db_table} CASCADE")
        cursor.execute(f"UPDATE {TABLE} SET review_deadline_status = '', payout_deadline_status = '', "
                       "business_days_left = NULL WHERE review_deadline_status <> '' "
                       "OR payout_deadline_status <> '' OR business_days_left IS NOT NULL")
        if not connection.in_atomic_block:  # the test of this code runs in a transaction
            cursor.execute(f"VACUUM ANALYZE {TABLE}")


def floor() -> None:
    """A business-day table and two bare UPDATEs: the least any scan writing these columns does."""
    now = timezone.now()
    today = local_date(now)
    calendar = business_calendar()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT min(least(review_due_at, payout_due_at)), max(greatest(review_due_at, payout_due_at)) "
                       f"FROM {TABLE} WHERE state IN ('submitted', 'under_review', 'approved')")
        lo, hi = cursor.fetchone()
        rows = []
        day = local_date(lo)
        while day <= local_date(hi):
            status, left = deadline_status(day, today, calendar=calendar, near_threshold=2)
            rows.append((day, status, left))
            day += dt.timedelta(days=1)
        cursor.execute("DROP TABLE IF EXISTS bench_days")  # a test's savepoint never commits
        cursor.execute("CREATE TEMP TABLE bench_days (day date PRIMARY KEY, status varchar(8), days_left int) "
                       "ON COMMIT DROP")
        cursor.execute("INSERT INTO bench_days SELECT * FROM unnest(%s::date[], %s::varchar[], %s::int[])",
                       [list(column) for column in zip(*rows, strict=True)])
        for kind, states in (("review", "('submitted', 'under_review')"), ("payout", "('approved')")):
            cursor.execute(
                f"UPDATE {TABLE} r SET {kind}_deadline_status = d.status, business_days_left = d.days_left "
                f"FROM bench_days d WHERE r.state IN {states} "
                f"AND d.day = (r.{kind}_due_at AT TIME ZONE 'Asia/Kolkata')::date "
                f"AND (r.{kind}_deadline_status <> d.status OR r.business_days_left IS DISTINCT FROM d.days_left)"
            )


def run_scan() -> int:
    with CaptureQueriesContext(connection) as queries:
        result = scan.scan_deadlines()
    if result.skipped:
        sys.exit("another scan holds the advisory lock on this database; stop it first")
    return len(queries)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def measure_existing(repeats: int = REPEATS) -> dict[str, object]:
    """Floor and scan, cold and warm, interleaved, on the requests already in the database."""
    figures: dict[str, list[float]] = {"floor_cold": [], "floor_warm": [], "scan_cold": [], "scan_warm": []}
    queries: list[int] = []
    with mock.patch.object(scan, "enqueue_notifications", lambda ids: len(ids)):
        for _ in range(repeats):
            reset()
            figures["floor_cold"].append(timed(floor))
            figures["floor_warm"].append(timed(floor))
            reset()
            figures["scan_cold"].append(timed(run_scan))
            figures["scan_warm"].append(timed(run_scan))
            queries.append(run_scan())
    open_rows = RefundRequest.objects.filter(state__in=["submitted", "under_review", "info_requested"]).count()
    return {"n": RefundRequest.objects.count(), "open": open_rows, "queries": max(queries),
            "alerts": Alert.objects.count(), **figures}


def measure(n: int) -> dict[str, object]:
    seed(n)
    row = measure_existing()
    print(n, {k: [round(v, 3) for v in vs] for k, vs in row.items() if isinstance(vs, list)},  # type: ignore[union-attr]
          row["queries"], flush=True)
    return row


def figures(repeats: int) -> list[Figure]:
    """For ``bench/run.py --only deadline_scan``: the scan cold and warm, each with its floor, on the
    database's own requests. It rewrites their stored ratings and empties the alerts: run it on a
    throw-away copy (like the transitions)."""
    from bench.common import load_average

    load = load_average()
    row = measure_existing(repeats)
    result = []
    for temperature in ("cold", "warm"):
        figure = Figure(f"deadline scan, {temperature} ({row['open']:,} open)", unit="ms",
                        runs=list(row[f"scan_{temperature}"]), floor=list(row[f"floor_{temperature}"]),  # type: ignore[call-overload]
                        queries=[int(row["queries"])] * repeats, load=[load, load_average()])  # type: ignore[call-overload]
        figure.note = (f"{row['alerts']:,} alerts; floor: a business-day table and two bare UPDATE … FROM "
                       "(target: cold ≤ 1.3x, warm ≤ 1.5x)")
        result.append(figure)
    return result


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} ms ({min(values) * 1000:,.0f}–{max(values) * 1000:,.0f})"


def report(rows: list[dict[str, object]]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "",
        "## Deadline scan",
        "",
        f"`bench/deadline_scan.py`, {dt.date.today():%Y-%m-%d}: {platform.machine()}, {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.platform()}), PostgreSQL {pg} (stock settings), Python "
        f"{platform.python_version()}, Django {django.get_version()}; load average before the run {load}.",
        "The CPUs were shared with seven other engineers' test suites during the run, so absolute times",
        "vary; floor and scan are interleaved in one run, so their ratio is the figure to read.",
        "Medians of 3 (min–max). Seed: 40% open (review due dates over twelve weeks around today),",
        "5% approved (payout due ±2 weeks), 55% decided; ~4 KB evaluation per row.",
        "Floor: a business-day table and two bare `UPDATE … FROM` (review, payout) writing changed rows.",
        "Cold: after every stored rating was reset (every open row changes, alerts inserted);",
        "warm: the same moment again (nothing changes). Target: cold ≤ 1.3x, warm ≤ 1.5x.",
        "",
        "| requests (open) | floor cold | scan cold | ratio | floor warm | scan warm | ratio | queries | alerts |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        fc, sc, fw, sw = (row[k] for k in ("floor_cold", "scan_cold", "floor_warm", "scan_warm"))
        lines.append(
            f"| {row['n']:,} ({row['open']:,}) | {_cell(fc)} | {_cell(sc)} | "  # type: ignore[arg-type]
            f"{statistics.median(sc) / statistics.median(fc):.2f}x | {_cell(fw)} | {_cell(sw)} | "  # type: ignore[arg-type]
            f"{statistics.median(sw) / statistics.median(fw):.2f}x | {row['queries']} | {row['alerts']:,} |"  # type: ignore[arg-type]
        )
    return lines + [""]


def write(lines: list[str]) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if "\n## Deadline scan\n" in text:  # replace our own section only
        start = text.index("\n## Deadline scan\n")
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="requests to seed (repeatable); default 100000")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run against PostgreSQL: DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    rows = [measure(n) for n in args.rows or [100_000]]
    lines = report(rows)
    print("\n".join(lines))
    if not args.no_write:
        write(lines)


if __name__ == "__main__":
    main()
