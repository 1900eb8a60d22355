"""Time the deadline scan at 1k / 10k / 100k open requests on PostgreSQL (a benchmark, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_deadlines_bench .venv/bin/python bench/deadline_scan.py

Creates the database schema if needed (migrate), fills it with bulk-created requests whose review
due dates spread over six weeks around today, runs the scan cold (everything changes, alerts are
raised) and warm (nothing changes), and appends the figures to BENCHMARKS.md under "Deadline scan".
Notifications are not sent: the enqueue is replaced by a no-op so the broker is not measured.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from januscaler_refunds.billing.models import Customer, Invoice, PolicyVersion  # noqa: E402
from januscaler_refunds.deadlines import scan  # noqa: E402
from januscaler_refunds.deadlines.models import Alert  # noqa: E402
from januscaler_refunds.policy.calendar import end_of_day, local_date  # noqa: E402
from januscaler_refunds.refunds.models import RefundRequest  # noqa: E402

SIZES = (1_000, 10_000, 100_000)


def fill(n: int) -> None:
    Alert.objects.all().delete()
    RefundRequest.objects.all().delete()
    version = PolicyVersion.objects.order_by("effective_date").first()
    customer, _ = Customer.objects.get_or_create(email="bench@example.com", defaults={"name": "Bench"})
    invoice, _ = Invoice.objects.get_or_create(
        number="INV-BENCH", defaults=dict(customer=customer, issued_on=dt.date(2025, 6, 1), kind="initial",
                                          payment_method="card", currency="USD", amount_paid=100),
    )
    today = local_date(timezone.now())
    received = timezone.now() - dt.timedelta(days=3)
    batch = []
    for i in range(n):
        batch.append(RefundRequest(
            reference=f"BENCH-{i}", customer=customer, invoice=invoice, requester_email=customer.email,
            reason="other", received_at=received, currency="USD", policy_version=version,
            review_due_at=end_of_day(today + dt.timedelta(days=(i % 42) - 14)),
        ))
        if len(batch) == 5000:
            RefundRequest.objects.bulk_create(batch)
            batch = []
    RefundRequest.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed() -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = scan.scan_deadlines()
        elapsed = time.perf_counter() - started
    if result.skipped:
        sys.exit("another scan holds the advisory lock on this database; stop it first")
    return elapsed, len(queries)


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("run against PostgreSQL: DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    rows = []
    with mock.patch.object(scan, "enqueue_notifications", lambda ids: len(ids)):
        for n in SIZES:
            fill(n)
            cold, cold_queries = timed()
            alerts = Alert.objects.count()
            warm = [timed() for _ in range(3)]
            rows.append((n, cold, cold_queries, alerts, statistics.median(t for t, _ in warm), warm[0][1]))
            print(rows[-1], flush=True)
    RefundRequest.objects.all().delete()
    pg = connection.cursor().connection.info.server_version
    lines = [
        "",
        "## Deadline scan",
        "",
        f"`bench/deadline_scan.py`, PostgreSQL {pg // 10000}.{pg % 10000}, {dt.date.today():%Y-%m-%d}. Open requests",
        "with review due dates spread over six weeks around today (a third overdue, a few near).",
        "Cold: the first scan (every row rated, alerts and notifications inserted); warm: the median of",
        "three more scans of the same moment (nothing changes). Sending is not measured. The machine's 2 vCPUs",
        "were shared with other test suites, so absolute times are pessimistic; the query count is the point.",
        "",
        "| open requests | cold scan | queries | alerts raised | warm scan | queries |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {n:,} | {cold * 1000:.0f} ms | {cq} | {a:,} | {warm * 1000:.0f} ms | {wq} |"
          for n, cold, cq, a, warm, wq in rows],
        "",
    ]
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if "\n## Deadline scan\n" in text:  # replace our own section only
        start = text.index("\n## Deadline scan\n")
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "\n")
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
