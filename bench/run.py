"""Measure issue 14's figures on a seeded database, each with its floor, and append them to BENCHMARKS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py [--repeats 3]
        [--only queue,pages,transitions,reevaluation,export] [--no-append]

Seed first with ``bench/seed.py``. Every figure is measured ``--repeats`` times in this one run and
reported as median and min-max, next to its *floor* measured in the same run and the ratio:

* queue pages, review page, admin index, dashboard: the whole request through Django's test client
  (middleware, admin, template rendering) as a superuser; the floor is the page's most expensive
  SQL statement, captured from that request and executed alone.
* transitions: ``refund_request_approve`` (lock, guards, save, log row, notification row) on fresh
  under-review requests; the floor is a bare ``UPDATE`` + log ``INSERT`` per request.
* re-evaluation: ``bench/reevaluation.py`` (batched and one by one; the floor is the policy engine
  alone on facts already loaded).
* export: the full refund report through ``reports.services.export_csv_stream`` in a child process
  (so its peak RSS is its own); the floor is ``COPY (SELECT the same columns) TO STDOUT``.

Transitions change the database (approved requests, log rows); run it on a throw-away database.
The machine is shared: the load average is recorded beside every figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

GROUPS = ["queue", "pages", "transitions", "reevaluation", "export"]

from bench.common import Figure, _client, load_average, page_figure  # noqa: E402


def queue_urls() -> list[tuple[str, str]]:
    from januscaler_refunds.refunds.models import RefundRequest

    sample = RefundRequest.objects.filter(state="under_review").order_by("id").select_related("invoice", "customer")[1000]
    base = "/admin/refunds/refundrequest/"
    page = min(500, RefundRequest.objects.open().count() // 50 - 1)
    ref, number, email = sample.reference, sample.invoice.number, sample.customer.email
    return [
        ("queue, default page (open work)", base),
        ("queue, all requests", base + "?status=all"),
        ("queue, closed", base + "?status=closed"),
        (f"queue, page {page}", base + f"?p={page}"),
        ("queue, state=under_review", base + "?state__exact=under_review"),
        ("queue, state=denied", base + "?state__exact=denied"),
        ("queue, reason=billing_error", base + "?reason__exact=billing_error"),
        ("queue, recommendation=deny", base + "?recommendation__exact=deny"),
        ("queue, deadline=overdue", base + "?deadline=overdue"),
        ("queue, deadline=near", base + "?deadline=near"),
        ("queue, deadline=ok", base + "?deadline=ok"),
        ("queue, assignee=unassigned", base + "?assignee=unassigned"),
        ("queue, assignee=mine", base + "?assignee=mine"),
        ("queue, payment method=crypto", base + "?invoice__payment_method__exact=crypto"),
        ("queue, received last 3 days", base + "?received_at_from=2026-11-24&received_at_to=2026-11-27"),
        ("queue, search reference exact", base + f"?q={ref}"),
        ("queue, search reference prefix", base + f"?q={ref[:-1]}"),
        ("queue, search invoice number exact", base + f"?q={number}"),
        ("queue, search invoice number prefix", base + f"?q={number[:-1]}"),
        ("queue, search customer email exact", base + f"?q={email}"),
        ("queue, search customer email prefix", base + f"?q={email.split('@')[0]}@"),
        ("queue, search customer name (trigram)", base + "?q=Customer+4242"),
    ]


def bench_queue(repeats: int) -> list[Figure]:
    client = _client()
    return [page_figure(client, name, url, repeats) for name, url in queue_urls()]


def bench_pages(repeats: int) -> list[Figure]:
    from januscaler_refunds.refunds.models import RefundRequest

    client = _client()
    busy = RefundRequest.objects.filter(state="paid").order_by("id").values_list("pk", flat=True)[500]
    return [
        page_figure(client, "review page (paid request)", f"/admin/refunds/refundrequest/{busy}/change/", repeats),
        page_figure(client, "admin index (cards)", "/admin/", repeats),
        page_figure(client, "dashboard", "/admin/reports/dashboard/", repeats),
    ]


# --- transitions ---------------------------------------------------------------------------


def bench_transitions(repeats: int, batch: int = 200) -> list[Figure]:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from januscaler_refunds.refunds import services
    from januscaler_refunds.refunds.models import RefundRequest

    actor = get_user_model().objects.get(username="bench-admin")
    figure = Figure(f"approve + log + notification ({batch} per run)", unit="/s", rate=True)
    candidates = (
        RefundRequest.objects.filter(state="under_review", refundable_amount__gt=0)
        .order_by("-id").select_related("invoice", "customer", "policy_version")
    )
    for _ in range(repeats):
        rows = list(candidates[:batch])
        figure.load.append(load_average())
        started = time.perf_counter()
        for refund in rows:
            services.refund_request_approve(request=refund, actor=actor, amount=Decimal("1.00"))
        figure.runs.append(len(rows) / (time.perf_counter() - started))
    for _ in range(repeats):
        ids = list(candidates.values_list("pk", flat=True)[:batch])
        started = time.perf_counter()
        for pk in ids:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("UPDATE refunds_refundrequest SET state = 'approved', approved_amount = 1,"
                               " decided_at = now(), updated_at = now() WHERE id = %s", [pk])
                cursor.execute("INSERT INTO refunds_transitionlog (request_id, at, actor_label, transition,"
                               " from_state, to_state, note) VALUES (%s, now(), 'bench', 'approve',"
                               " 'under_review', 'approved', '')", [pk])
        figure.floor.append(len(ids) / (time.perf_counter() - started))
    figure.note = "floor: bare UPDATE + INSERT per request, one transaction each"
    return [figure]


# --- export --------------------------------------------------------------------------------

COPY_FLOOR_SQL = """
    COPY (SELECT r.reference, r.received_at, c.name, c.email, i.number, i.issued_on, i.payment_method, r.reason,
                 r.state, r.recommendation, r.evaluation_codes, p.label, r.requested_amount, r.refundable_amount,
                 r.approved_amount, r.currency, u.username, r.review_due_at, r.decided_at, r.payout_due_at,
                 r.settled_at
          FROM refunds_refundrequest r JOIN billing_customer c ON c.id = r.customer_id
          JOIN billing_invoice i ON i.id = r.invoice_id JOIN billing_policyversion p ON p.id = r.policy_version_id
          LEFT JOIN auth_user u ON u.id = r.assignee_id ORDER BY r.received_at, r.id) TO STDOUT WITH CSV
"""


def export_child() -> None:
    """Run in a child process: one full report through the admin/command path; print JSON."""
    print(json.dumps(export_once()))


def export_once() -> dict[str, float]:
    from januscaler_refunds.reports import selectors, services

    queryset = selectors.refund_requests_filtered(states=None, reasons=None, received_from=None, received_to=None)
    record = services.export_record_create(user=None, fmt="csv", source="command", query_string="bench")
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in services.export_csv_stream(record=record, queryset=queryset))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "bytes": size, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_export(repeats: int, in_process: bool = False) -> list[Figure]:
    from django.db import connection

    figure = Figure("full refund report CSV", unit="s")
    rss = []
    for _ in range(repeats):
        figure.load.append(load_average())
        if in_process:  # the test of this code: its rows are in the test's transaction
            data = export_once()
        else:
            out = subprocess.run([sys.executable, __file__, "--export-child"], capture_output=True, text=True,
                                 check=True, env=os.environ)
            data = json.loads(out.stdout.strip().splitlines()[-1])
        figure.runs.append(data["seconds"])
        rss.append(data["rss_mb"])
    size = 0
    for _ in range(repeats):
        size = 0
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.connection.cursor().copy(COPY_FLOOR_SQL) as copy:
            for chunk in copy:
                size += len(chunk)
        figure.floor.append(time.perf_counter() - started)
    figure.note = f"peak RSS of the child {statistics.median(rss):.0f} MB; floor: raw COPY of the same rows, {size / 1e6:.0f} MB"
    return [figure]


# --- the report ------------------------------------------------------------------------------


def environment() -> str:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), pg_size_pretty(pg_database_size(current_database())),"
                       " (SELECT count(*) FROM refunds_refundrequest)")
        version, size, rows = cursor.fetchone()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{rows:,} requests ({size}); {os.cpu_count()} vCPU {cpu}; Python {platform.python_version()}, "
            f"Django {django.get_version()}, {version.split(' on ')[0]} (stock settings)")


def report(figures: list[Figure], started: float, env: str) -> str:
    lines = [
        f"### Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}",
        "",
        env + f"; load average at start {load_average():.1f} (2 cores shared with 7 other engineers' test runs).",
        "",
        "| figure | median (min–max) | queries | floor, same run | ratio | load avg | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *(f.row() for f in figures),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(GROUPS))
    parser.add_argument("--export-repeats", type=int, default=None, help="default: --repeats")
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--export-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import django

    django.setup()
    if args.export_child:
        export_child()
        return
    from django.db import connection
    from django.test.utils import setup_test_environment

    if connection.vendor != "postgresql":
        sys.exit("Run against a seeded PostgreSQL database (bench/seed.py).")
    setup_test_environment()  # the test client's host, locmem e-mail
    started = time.time()
    env = environment()
    figures: list[Figure] = []
    benches = {"queue": bench_queue, "pages": bench_pages, "transitions": bench_transitions,
               "export": bench_export}
    for group in args.only.split(","):
        print(f"-- {group}", file=sys.stderr, flush=True)
        repeats = args.export_repeats if group == "export" and args.export_repeats else args.repeats
        # A group is one of the functions above or a module ``bench/<group>.py`` with ``figures(repeats)``.
        bench = benches.get(group) or importlib.import_module(f"bench.{group}").figures
        for figure in bench(repeats):
            print(figure.row(), file=sys.stderr, flush=True)
            figures.append(figure)
    text = report(figures, started, env)
    print(text)
    if not args.no_append:
        with open(args.output, "a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
