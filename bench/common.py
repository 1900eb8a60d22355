"""What every benchmark module shares: a Figure (runs, floor, ratio), the load average, timing,
and a page measured through Django's test client with its heaviest SQL statement as the floor.

Each area's benchmark lives in its own module (``bench/<area>.py``) exposing
``figures(repeats: int) -> list[Figure]``; ``bench/run.py`` runs them in one process and appends the
table to BENCHMARKS.md.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@dataclass
class Figure:
    name: str
    runs: list[float] = field(default_factory=list)  # seconds (or a rate when ``rate``)
    floor: list[float] = field(default_factory=list)
    unit: str = "ms"
    queries: list[int] = field(default_factory=list)
    note: str = ""
    load: list[float] = field(default_factory=list)
    rate: bool = False  # higher is better: ratio is floor / figure

    def row(self) -> str:
        def fmt(values: list[float]) -> str:
            if not values:
                return "—"
            med = statistics.median(values)
            scale = 1000 if self.unit == "ms" else 1
            return f"{med * scale:,.1f} ({min(values) * scale:,.1f}–{max(values) * scale:,.1f})"

        ratio = "—"
        if self.runs and self.floor:
            a, b = statistics.median(self.runs), statistics.median(self.floor)
            if a and b:
                ratio = f"{(b / a if self.rate else a / b):,.1f}x"
        q = "—" if not self.queries else (str(self.queries[0]) if len(set(self.queries)) == 1
                                           else f"{min(self.queries)}–{max(self.queries)}")
        load = f"{statistics.median(self.load):.1f}" if self.load else "—"
        return f"| {self.name} | {fmt(self.runs)} {self.unit} | {q} | {fmt(self.floor)} {self.unit} | {ratio} | {load} | {self.note} |"


def load_average() -> float:
    return os.getloadavg()[0]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# --- pages (queue, review page, index, dashboard) ---------------------------------------------


def _client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    return client


def page_figure(client: Any, name: str, url: str, repeats: int, note: str = "") -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    figure = Figure(name, note=note)
    client.get(url)  # warm: templates, content types, the session
    heaviest = ""
    cpu = []
    for _ in range(repeats):
        figure.load.append(load_average())
        with CaptureQueriesContext(connection) as ctx:
            cpu_started = time.process_time()
            seconds, response = _timed(lambda: client.get(url))
            cpu.append(time.process_time() - cpu_started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
        figure.runs.append(seconds)
        # Transaction control (the session save's BEGIN/COMMIT, savepoints inside a test's
        # transaction) is not a query of the page: the same page counts the same in a test and at 1M.
        figure.queries.append(sum(1 for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)))
        plain = [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))]
        heaviest = max(plain, key=lambda q: float(q["time"]))["sql"]
    with connection.cursor() as cursor:
        for _ in range(repeats):
            seconds, _rows = _timed(lambda: (cursor.execute(heaviest), cursor.fetchall()))
            figure.floor.append(seconds)
    sql_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    figure.note = (note + " " if note else "") + (
        f"Python CPU {statistics.median(cpu) * 1000:,.0f} ms, SQL {sql_ms:,.0f} ms (last run)")
    return figure
