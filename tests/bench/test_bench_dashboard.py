"""bench/dashboard.py and bench/deadline_scan.py's figures() on a small seed: every figure has runs
and a floor, the pages' query counts do not grow with the data, and the dashboard the day figures
give equals the live computation on the seeded (realistic) history. No speed is asserted."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from types import ModuleType

import pytest
from django.utils import timezone

from januscaler_refunds.reports import selectors

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


def _queries(figures: list) -> dict[str, int]:
    return {f.name: max(f.queries) for f in figures if f.queries}


QUERIES: dict[int, dict[str, int]] = {}


@pytest.mark.parametrize("n", [2_000, 6_000])
def test_dashboard_figures_and_constant_queries(n: int) -> None:
    seed = _load("seed")
    dashboard = _load("dashboard")
    seed.seed(n, verbose=False)
    # The seed loads with triggers off (session_replication_role = replica) and rebuilds the day
    # figures itself: the kept dashboard equals the live one right after seeding.
    assert selectors.dashboard_build(today=timezone.localdate(), live=False) == selectors.dashboard_build(
        today=timezone.localdate(), live=True)
    figures = dashboard.figures(1)
    names = [f.name for f in figures]
    assert names[:2] == ["admin index (cards)", "dashboard"]
    assert any(name.startswith("day figures: fold") for name in names)
    assert any(name.startswith("day figures: rebuild") for name in names)
    for figure in figures:
        assert figure.runs and figure.floor and all(v > 0 for v in figure.runs + figure.floor), figure.name

    today = timezone.localdate()
    live = selectors.dashboard_build(today=today, live=True)
    kept = selectors.dashboard_build(today=today, live=False)
    for field in dataclasses.fields(selectors.Dashboard):
        assert getattr(kept, field.name) == getattr(live, field.name), field.name
    assert sum(m["requests"] for m in live.monthly) > 0 and live.codes

    # The budget: the cards and the dashboard stay at a dozen queries (session, user, holidays,
    # policy versions, one round trip of counts, the day figures' three reads), whatever the size.
    QUERIES[n] = _queries(figures)
    assert max(QUERIES[n].values()) <= 12, QUERIES[n]
    if len(QUERIES) == 2:
        assert QUERIES[2_000] == QUERIES[6_000], QUERIES


def test_deadline_scan_figures_with_their_floors() -> None:
    seed = _load("seed")
    seed.seed(2_000, verbose=False)
    scan_bench = _load("deadline_scan")
    cold, warm = scan_bench.figures(1)
    assert cold.name.startswith("deadline scan, cold") and warm.name.startswith("deadline scan, warm")
    for figure in (cold, warm):
        assert figure.runs and figure.floor and all(v > 0 for v in figure.runs + figure.floor)
        assert figure.queries and figure.queries[0] <= 12
    assert "| deadline scan, cold" in cold.row()
