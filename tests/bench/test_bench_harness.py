"""The benchmark code itself (bench/seed.py, bench/run.py) on 10,000 requests: it seeds what it says
and measures every figure with a floor. Nothing here asserts a speed; query counts are asserted."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
BENCH = Path(__file__).resolve().parents[2] / "bench"
N = 10_000


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


@pytest.fixture
def seeded() -> dict[str, int]:
    return _load("seed").seed(N, verbose=False)


def _one(sql: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_seed_distributions_and_real_evaluations(seeded: dict[str, int]) -> None:
    assert seeded["refunds_refundrequest"] == N
    assert seeded["billing_customer"] == N // 10
    assert seeded["billing_invoice"] == N
    assert seeded["billing_invoiceline"] == N * 5 // 2
    assert seeded["refunds_transitionlog"] == N * 271 // 100
    assert seeded["refunds_customermessage"] == N * 3 // 2
    open_share = _one("SELECT avg((state IN ('submitted','under_review','info_requested'))::int) FROM refunds_refundrequest")
    assert float(open_share) == pytest.approx(0.40, abs=0.01)
    # Every request carries an evaluation the engine produced (clauses, codes), not an empty stub.
    assert _one("SELECT count(*) FROM refunds_refundrequest WHERE evaluation = '{}'::jsonb OR recommendation = ''") == 0
    assert _one("SELECT min(jsonb_array_length(evaluation->'clauses')) FROM refunds_refundrequest") > 3
    assert _one("SELECT count(DISTINCT recommendation) FROM refunds_refundrequest") >= 2


def test_run_measures_every_figure_with_its_floor(seeded: dict[str, int]) -> None:
    run = _load("run")
    queue_module = _load("review_queue")
    figures = [
        *queue_module.figures(1),
    ]
    for figure in figures:
        assert figure.runs and figure.floor and all(v > 0 for v in figure.runs + figure.floor), figure.name
    queue = [f for f in figures if f.name.startswith("queue")]
    assert len(queue) == len(queue_module.queue_urls())
    # The queue's budget: at most 8 queries per page, whatever the filter or search.
    # 8 for the page itself, plus the session's save that the 8-hour idle expiry makes on every request
    # (SESSION_SAVE_EVERY_REQUEST, docs/security.md).
    assert max(q for f in queue for q in f.queries) <= 9, {f.name: f.queries for f in queue}
    text = run.report(figures, 0.0, run.environment())
    assert "| figure | median (min–max) | queries | floor, same run | ratio | load avg |" in text
    assert f"{N:,} requests" in text
    assert text.count("\n| queue") == len(queue)
