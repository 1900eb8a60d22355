"""Benchmark: the refund report CSV through the service against a raw ``COPY`` of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py --only export
    DATABASE_URL=... .venv/bin/python bench/export.py [--repeats 3]      # this group alone, no append

Figures (each measured ``repeats`` times, interleaved with its floor, in this one run):

* the full report (every request, the command's default order) through
  ``reports.services.export_csv_unrecorded`` — the path ``export_csv_stream`` / ``export_write`` /
  ``export_run_to_storage`` take (SQL formatting streamed with ``COPY``, row ends, sha256 of every
  byte) minus the ExportRecord row — in a child process, so its peak RSS is its own;
* the same for a filtered export (``state=denied``, as the admin's or the command's filter);
* floor: ``COPY (SELECT <the report's source columns, unformatted> FROM <the same joins> WHERE <the same
  filter> ORDER BY <the same order>) TO STDOUT WITH CSV`` — Django's SQL for the Python path's
  ``values()`` — read through psycopg in the parent, each row's bytes counted.

Nothing is written: the child's session is read-only (``default_transaction_read_only``), so this
runs against the shared ``bench_1m`` as well as a throw-away database. Sizes come from the data.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

from bench.common import Figure, load_average  # noqa: E402

# name, the command's filters (reports.selectors.refund_requests_filtered)
REPORTS: list[tuple[str, dict[str, Any]]] = [
    ("refund report CSV, all rows", {}),
    ("refund report CSV, state=denied", {"states": ["denied"]}),
]


def _queryset(filters: dict[str, Any]) -> Any:
    from januscaler_refunds.reports import selectors

    return selectors.refund_requests_filtered(**filters)


def _read_only() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET default_transaction_read_only = on")


def export_once(filters: dict[str, Any]) -> dict[str, Any]:
    """One report through the service; wall and CPU seconds, bytes, rows, peak RSS (MB)."""
    from januscaler_refunds.reports import services

    queryset = _queryset(filters)
    size = lines = 0
    before = _status_mb("VmRSS")
    cpu = time.process_time()
    started = time.perf_counter()
    for chunk in services.export_csv_unrecorded(queryset=queryset):
        size += len(chunk)
        lines += chunk.count(b"\r\n")  # rows, if no cell holds a CRLF of its own (none in the seed)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "bytes": size,
        "lines": lines,
        "sql": services.uses_sql(queryset),
        "rss_mb": _status_mb("VmHWM"),
        "rss_before_mb": before,
    }


def _status_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` of this process's own image. ``ru_maxrss`` cannot serve in a
    child: Linux keeps the forked parent's peak across ``exec``, so a child of a large benchmark
    process would report the parent's size."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor_statement(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """The raw COPY: the report's source columns, unformatted, from the same joins, filter and order."""
    from januscaler_refunds.reports.resources import ROW_VALUES

    sql, params = _queryset(filters).values(*ROW_VALUES).query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", list(params)


def floor_once(filters: dict[str, Any]) -> tuple[float, int]:
    from django.db import connection

    statement, params = floor_statement(filters)
    size = 0
    started = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        for row in copy:
            size += len(row)
    return time.perf_counter() - started, size


def _child(filters: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(filters)],
        capture_output=True, text=True, check=True, env=os.environ,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def figures(repeats: int, in_process: bool = False) -> list[Figure]:
    """``in_process``: run the export in this process (the test of this module: its rows live in the
    test's transaction, which a child cannot see)."""
    result = []
    for name, filters in REPORTS:
        figure = Figure(name, unit="s")
        rss, growth, cpu, runs = [], [], [], []
        floor_size = 0
        for _ in range(repeats):
            figure.load.append(load_average())
            data = export_once(filters) if in_process else _child(filters)
            runs.append(data)
            figure.runs.append(data["seconds"])
            rss.append(data["rss_mb"])
            growth.append(data["rss_mb"] - data["rss_before_mb"])
            cpu.append(data["cpu"])
            seconds, floor_size = floor_once(filters)
            figure.floor.append(seconds)
        last = runs[-1]
        figure.note = (
            f"{last['lines'] - 1:,} rows, {last['bytes'] / 1e6:,.1f} MB, "
            f"{'SQL (COPY)' if last['sql'] else 'Python'} path; process CPU {statistics.median(cpu):,.2f} s; "
            f"peak RSS {'of the child ' if not in_process else ''}{max(rss):,.0f} MB "
            f"(+{max(growth):,.0f} MB over its size before the export); "
            f"floor: raw COPY of the source columns, {floor_size / 1e6:,.1f} MB"
        )
        result.append(figure)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run against a seeded PostgreSQL database (bench/seed.py).")
    _read_only()  # the export reads; nothing in this process may write
    if args.child is not None:
        print(json.dumps(export_once(json.loads(args.child))))
        return
    for figure in figures(args.repeats):
        print(figure.row())


if __name__ == "__main__":
    main()
