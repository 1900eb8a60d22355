"""Measure issue 14's figures on a seeded database, each with its floor, and append them to BENCHMARKS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py [--repeats 3]
        [--only queue,pages,transitions,reevaluation,export] [--no-append]

Seed first with ``bench/seed.py``. Every figure is measured ``--repeats`` times in this one run and
reported as median and min-max, next to its *floor* measured in the same run and the ratio:

* queue pages and the review page: ``bench/queue.py``. Admin index, dashboard: the whole request
  through Django's test client (middleware, admin, template rendering) as a superuser; the floor is
  the page's most expensive SQL statement, captured from that request and executed alone.
* transitions (``bench/transitions.py``): approve, payout and deny through the services on fresh
  requests; the floor is the bare ``UPDATE`` + ``INSERT`` statements per request.
* re-evaluation: ``evaluate_and_store`` one request at a time (the path ``reevaluate_open_requests``
  takes); the floor is the policy engine alone on facts already loaded.
* export: ``bench/export.py`` (the full and a filtered refund report in a child process, against a
  raw ``COPY`` of the same rows).

Transitions change the database (approved requests, log rows); run it on a throw-away database.
The machine is shared: the load average is recorded beside every figure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

GROUPS = ["queue", "dashboard", "transitions", "reevaluation", "export", "imports", "ingest", "deadline_scan"]

from bench.common import Figure, _timed, load_average  # noqa: E402

# --- re-evaluation -------------------------------------------------------------------------


def bench_reevaluation(repeats: int, batch: int = 5000, one_by_one: int = 200) -> list[Figure]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from januscaler_refunds.policy.engine import evaluate
    from januscaler_refunds.refunds import evaluation
    from januscaler_refunds.refunds.models import RefundRequest
    from januscaler_refunds.refunds.reevaluation import reevaluate_requests

    calendar = evaluation.business_calendar()
    open_ids = list(RefundRequest.objects.open().order_by("id").values_list("pk", flat=True)[:batch * repeats])
    batched = Figure(f"re-evaluation, batched ({batch:,} open requests per run, 500 per chunk)", unit="/s", rate=True)
    rss = []
    for i in range(repeats):
        ids = open_ids[i * batch:(i + 1) * batch]
        batched.load.append(load_average())
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with CaptureQueriesContext(connection) as ctx:
            seconds, done = _timed(lambda ids=ids: reevaluate_requests(ids, calendar=calendar))
        rss.append((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
        batched.runs.append(done / seconds)
        batched.queries.append(round(len(ctx.captured_queries) / (len(ids) / 500)))
    single = Figure(f"re-evaluation, one by one ({one_by_one} open requests)", unit="/s", rate=True)
    rows = list(RefundRequest.objects.open().order_by("-id").select_related("invoice", "customer", "policy_version")[:one_by_one])
    for _ in range(repeats):
        single.load.append(load_average())
        with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
            seconds, _ = _timed(lambda: [evaluation.evaluate_and_store(r, calendar=calendar) for r in rows])
        single.runs.append(len(rows) / seconds)
        single.queries.append(round(len(ctx.captured_queries) / len(rows)))
    facts = [evaluation.load_facts(r, calendar=calendar) for r in rows]
    now = timezone.now()
    for _ in range(repeats):
        seconds, _ = _timed(lambda: [evaluate(fact, now=now) for fact in facts])
        batched.floor.append(len(rows) / seconds)
        single.floor.append(len(rows) / seconds)
    batched.note = (f"queries per 500-request chunk in the queries column; peak RSS growth {max(rss):.0f} MB; "
                    "floor: the engine alone on loaded facts")
    single.note = "queries per request; the path before issue 14"
    return [batched, single]


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
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    if connection.vendor != "postgresql":
        sys.exit("Run against a seeded PostgreSQL database (bench/seed.py).")
    setup_test_environment()  # the test client's host, locmem e-mail
    started = time.time()
    env = environment()
    figures: list[Figure] = []
    benches = {"reevaluation": bench_reevaluation}
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
