"""Measure issue 14's figures on a seeded database, each with its floor, and append them to BENCHMARKS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py [--repeats 3]
        [--only review_queue,dashboard,transitions,reevaluation,export,imports,ingest,deadline_scan] [--no-append]

Seed first with ``bench/seed.py``. Every figure is measured ``--repeats`` times in this one run and
reported as median and min-max, next to its *floor* measured in the same run and the ratio:

* queue pages and the review page (``bench/review_queue.py``), admin index and dashboard
  (``bench/dashboard.py``): the whole request through Django's test client (middleware, admin,
  template rendering) as a superuser; the floor is the page's most expensive SQL statement,
  captured from that request and executed alone.
* imports (``bench/imports.py``), email ingest (``bench/ingest.py``), deadline scan
  (``bench/deadline_scan.py``): each against its floor (bare ``COPY``; read + parse + one INSERT;
  bare ``UPDATE`` over a business-day table).
* transitions (``bench/transitions.py``): approve, payout and deny through the services on fresh
  requests; the floor is the bare ``UPDATE`` + ``INSERT`` statements per request.
* re-evaluation: ``bench/reevaluation.py`` (batched and one by one; the floor is the policy engine
  alone on facts already loaded).
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
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

GROUPS = ["review_queue", "dashboard", "transitions", "reevaluation", "export", "imports", "ingest", "deadline_scan"]

from bench.common import Figure, load_average  # noqa: E402

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
        env + f"; load average when the table was written {load_average():.1f} (read each figure with the load beside it).",
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
    for group in args.only.split(","):
        print(f"-- {group}", file=sys.stderr, flush=True)
        repeats = args.export_repeats if group == "export" and args.export_repeats else args.repeats
        # Each group is a module ``bench/<group>.py`` with ``figures(repeats)``.
        bench = importlib.import_module(f"bench.{group}").figures
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
