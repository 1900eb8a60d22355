"""bench/export.py on a small seed: both figures measured with their floor, on the SQL path, in the
report's shape. Nothing here asserts a speed."""

from __future__ import annotations

import csv
import importlib
import io
from pathlib import Path
from types import ModuleType

import pytest
from django.db import connection

from januscaler_refunds.reports import selectors, services

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
BENCH = Path(__file__).resolve().parents[2] / "bench"
N = 2_000


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


def test_export_figures_with_their_floor_on_a_small_seed() -> None:
    _load("seed").seed(N, verbose=False)
    export = _load("export")
    figures = export.figures(1, in_process=True)
    assert [f.name for f in figures] == [name for name, _ in export.REPORTS]
    for figure in figures:
        assert figure.runs and figure.floor and all(v > 0 for v in figure.runs + figure.floor), figure.name
        assert "SQL (COPY) path" in figure.note and "peak RSS" in figure.note
    full, denied = figures
    assert f"{N:,} rows" in full.note
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM refunds_refundrequest WHERE state = 'denied'")
        assert f"{cursor.fetchone()[0]:,} rows" in denied.note
    # The floor reads the same rows: the report's source columns, same joins, filter and order.
    statement, params = export.floor_statement({"states": ["denied"]})
    assert statement.startswith("COPY (SELECT") and "denied" in params
    # What the benchmark times is the report: the SQL path's bytes equal the Python writer's.
    queryset = selectors.refund_requests_filtered(states=["denied"])
    sql = b"".join(services.export_csv_unrecorded(queryset=queryset))
    assert sql == b"".join(services.export_csv_unrecorded(queryset=queryset, engine="python"))
    assert len(list(csv.DictReader(io.StringIO(sql.decode(), newline="")))) == queryset.count()


def test_run_resolves_the_export_group_to_this_module() -> None:
    run = _load("run")
    assert "export" in run.GROUPS
    assert not hasattr(run, "bench_export") and not hasattr(run, "COPY_FLOOR_SQL")
