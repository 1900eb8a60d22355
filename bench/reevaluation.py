"""Re-evaluation (``refunds.reevaluation.reevaluate_requests``) against the engine alone, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_x .venv/bin/python bench/run.py --only reevaluation
    DATABASE_URL=... .venv/bin/python bench/reevaluation.py --rss [N]     # one run over N open requests

Seed first with ``bench/seed.py``. It writes evaluations (and nothing else): run it on your own
seeded database, never on a shared read-only one. ``figures(repeats)`` measures, each repeat on
other open requests:

* batched: ``reevaluate_requests`` over ``batch`` open requests (default 20,000, fewer if the
  database has fewer), as requests per wall-second and per CPU-second, where CPU is this process's
  plus its PostgreSQL backend's (read from /proc when the server is local); queries per chunk;
  peak RSS growth;
* one by one: ``evaluate_and_store`` on ``one_by_one`` requests (the path before issue 14);
* floor, same run: the policy engine alone (``evaluate``) on facts already loaded.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

from bench.common import Figure, load_average  # noqa: E402

CHUNK = 500


def _backend_seconds() -> float | None:
    """CPU seconds the connection's PostgreSQL backend has used so far; None if it cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the server runs elsewhere
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _counted() -> Iterator[list[int]]:
    """Count the queries run inside (without keeping their SQL: a chunk's UPDATE carries megabytes)."""
    from django.db import connection

    count = [0]

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if not sql.startswith(("SAVEPOINT", "RELEASE")):
            count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield count


def measure(ids: list[int], chunk_size: int = CHUNK) -> dict[str, float]:
    """One batched run over ``ids``: wall and CPU seconds, queries per chunk, RSS growth, longest chunk."""
    from django.test.utils import override_settings

    from januscaler_refunds.refunds import evaluation
    from januscaler_refunds.refunds.reevaluation import reevaluate_requests

    calendar = evaluation.business_calendar()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    backend_before = _backend_seconds()
    commits: list[float] = []
    rss: list[float] = []

    def progress(_done: int) -> None:
        commits.append(time.perf_counter())
        rss.append(_rss_now_mb())

    cpu_started, started = time.process_time(), time.perf_counter()
    # DEBUG (the settings' default) keeps every query's SQL in connection.queries_log, up to 9,000 of
    # them: with a chunk's UPDATE at megabytes, that, not the re-evaluation, would fill the memory.
    with override_settings(DEBUG=False), _counted() as queries:
        done = reevaluate_requests(ids, chunk_size=chunk_size, calendar=calendar, progress=progress)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    backend_after = _backend_seconds()
    backend = backend_after - backend_before if backend_before is not None and backend_after is not None else 0.0
    chunks = max(len(commits), 1)
    per_run = 3  # the calendar, the policy versions, the requests' customers (one query per 5,000 ids)
    per_run += max(0, (len(ids) - 1) // 5000)
    longest = max((b - a for a, b in zip([started, *commits], commits, strict=False)), default=wall)
    return {
        "done": done, "wall": wall, "cpu": cpu, "backend": backend,
        "queries_per_chunk": (queries[0] - per_run) / chunks,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "longest_chunk": longest,
        "rss_first_chunk_mb": rss[0] if rss else 0.0, "rss_last_chunk_mb": rss[-1] if rss else 0.0,
    }


def _rss_now_mb() -> float:
    """The resident set now (not the peak), from /proc; 0 where there is none."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _engine_alone(rows: list[Any], repeats: int) -> tuple[list[float], list[float]]:
    """The floor: ``evaluate`` on facts already built, per wall-second and per CPU-second."""
    from django.utils import timezone

    from januscaler_refunds.billing.models import PolicyVersion
    from januscaler_refunds.policy.engine import evaluate
    from januscaler_refunds.refunds import evaluation
    from januscaler_refunds.refunds.reevaluation import load_fact_rows

    calendar = evaluation.business_calendar()
    policies = {v.pk: evaluation.policy_facts(v) for v in PolicyVersion.objects.all()}
    fact_rows = load_fact_rows(rows)
    facts = [evaluation.build_facts(r, fact_rows[r.pk], policy=policies[r.policy_version_id], calendar=calendar)
             for r in rows]
    now = timezone.now()
    wall, cpu = [], []
    for _ in range(repeats):
        cpu_started, started = time.process_time(), time.perf_counter()
        for fact in facts:
            evaluate(fact, now=now)
        wall.append(len(facts) / (time.perf_counter() - started))
        cpu.append(len(facts) / max(time.process_time() - cpu_started, 1e-9))
    return wall, cpu


def figures(repeats: int, batch: int = 20_000, one_by_one: int = 200, chunk_size: int = CHUNK) -> list[Figure]:
    from django.db import transaction

    from januscaler_refunds.refunds import evaluation
    from januscaler_refunds.refunds.evaluation import REQUEST_COLUMNS, RequestRow
    from januscaler_refunds.refunds.models import RefundRequest

    open_ids = list(RefundRequest.objects.open().order_by("id").values_list("pk", flat=True))
    # Each repeat takes other requests (the first ``one_by_one`` are kept for the one-by-one figure).
    size = max(1, min(batch, (len(open_ids) - one_by_one) // repeats))
    wall = Figure(f"re-evaluation, batched ({size:,} open requests per run, {chunk_size} per chunk), per wall-second",
                  unit="/s", rate=True)
    per_cpu = Figure("re-evaluation, batched, per CPU-second (process + PostgreSQL backend)", unit="/s", rate=True)
    runs = []
    for i in range(repeats):
        ids = open_ids[one_by_one + i * size:one_by_one + (i + 1) * size]
        wall.load.append(load_average())
        per_cpu.load.append(wall.load[-1])
        run = measure(ids, chunk_size)
        runs.append(run)
        wall.runs.append(run["done"] / run["wall"])
        per_cpu.runs.append(run["done"] / (run["cpu"] + run["backend"]))
        wall.queries.append(round(run["queries_per_chunk"]))
        per_cpu.queries.append(round(run["queries_per_chunk"]))

    sample = open_ids[:one_by_one]
    single = Figure(f"re-evaluation, one by one ({len(sample)} open requests, evaluate_and_store)", unit="/s", rate=True)
    requests = list(RefundRequest.objects.filter(pk__in=sample).select_related("invoice", "customer", "policy_version"))
    calendar = evaluation.business_calendar()
    for _ in range(repeats):
        single.load.append(load_average())
        with transaction.atomic(), _counted() as queries:
            started = time.perf_counter()
            for request in requests:
                evaluation.evaluate_and_store(request, calendar=calendar)
            single.runs.append(len(requests) / (time.perf_counter() - started))
        single.queries.append(round(queries[0] / max(len(requests), 1)))

    rows = [RequestRow._make(v) for v in RefundRequest.objects.filter(pk__in=sample).values_list(*REQUEST_COLUMNS)]
    floor_wall, floor_cpu = _engine_alone(rows, repeats)
    wall.floor, single.floor, per_cpu.floor = floor_wall, list(floor_wall), floor_cpu
    cpu_split = statistics.median(r["backend"] / max(r["cpu"] + r["backend"], 1e-9) for r in runs)
    wall.note = (f"queries per {chunk_size}-request chunk; peak RSS growth {max(r['rss_growth_mb'] for r in runs):.0f} MB; "
                 f"longest chunk {max(r['longest_chunk'] for r in runs):.2f} s; floor: the engine alone on loaded facts")
    per_cpu.note = (f"PostgreSQL's share of the CPU {cpu_split:.0%}; floor: the engine alone per CPU-second; "
                    "target 2,000/s per core")
    single.note = "queries per request; the path before issue 14"
    return [wall, per_cpu, single]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rss", type=int, nargs="?", const=100_000, default=100_000,
                        help="re-evaluate this many open requests in one call and print the figures")
    parser.add_argument("--chunk", type=int, default=CHUNK)
    args = parser.parse_args()
    import django

    django.setup()
    from januscaler_refunds.refunds.models import RefundRequest

    ids = list(RefundRequest.objects.open().order_by("id").values_list("pk", flat=True)[:args.rss])
    load = load_average()
    run = measure(ids, args.chunk)
    print(f"{run['done']:,} open requests in {run['wall']:.1f} s wall ({run['done'] / run['wall']:,.0f}/s), "
          f"CPU {run['cpu']:.1f} s + PostgreSQL {run['backend']:.1f} s "
          f"({run['done'] / (run['cpu'] + run['backend']):,.0f} per CPU-second); "
          f"{run['queries_per_chunk']:.1f} queries per chunk; longest chunk {run['longest_chunk']:.2f} s; "
          f"RSS after the first chunk {run['rss_first_chunk_mb']:.0f} MB, after the last {run['rss_last_chunk_mb']:.0f} MB "
          f"(peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, growth of the peak "
          f"{run['rss_growth_mb']:.0f} MB); "
          f"load {load:.1f}-{load_average():.1f}")


if __name__ == "__main__":
    main()
