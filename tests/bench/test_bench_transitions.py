"""bench/transitions.py on a small seed: every figure has its floor, each repeat works on fresh
requests, and the queries per transition are the services' fixed numbers. No speed is asserted."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest, TransitionLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
BENCH = Path(__file__).resolve().parents[2] / "bench"
BENCH_USERS = ("bench-manager", "bench-finance")


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


def test_transitions_figures_on_fresh_requests_with_fixed_queries() -> None:
    _load("seed").seed(2_000, verbose=False)
    transitions = _load("transitions")
    under_review = RefundRequest.objects.filter(state="under_review").count()
    figures = transitions.figures(2, batch=5)

    names = [f.name for f in figures]
    assert [n.split(" ")[0] for n in names] == ["approve", "approve", "payout", "deny"], names
    for figure in figures:
        assert len(figure.runs) == len(figure.floor) == 2, figure.name
        assert all(v > 0 for v in figure.runs + figure.floor), figure.name
    approve, approve_cpu, payout, deny = figures
    # Statements per transition, BEGIN/COMMIT aside: lock, UPDATE, log, notification (approve, deny);
    # lock, payout, UPDATE, log, the invoice's open siblings, notification (payout).
    assert approve.queries == approve_cpu.queries == [4, 4]
    assert payout.queries == [6, 6]
    assert deny.queries == [4, 4]
    assert "(3 queries each)" in approve.note and "(4 queries each)" in payout.note

    # Fresh requests every repeat: 2 repeats x (5 by the service + 5 by the floor), none twice.
    for transition, to_state in (("approve", "approved"), ("deny", "denied"), ("mark_paid", "paid")):
        logged = TransitionLog.objects.filter(transition=transition, actor__username__in=BENCH_USERS)
        assert logged.count() == logged.values("request").distinct().count() == 20, transition
        assert RefundRequest.objects.filter(pk__in=logged.values("request"), state=to_state).count() == 20
    assert RefundRequest.objects.filter(state="under_review").count() == under_review - 40
    # The service's notifications are rendered rows, queued for the worker (the floor's are stubs).
    approved = TransitionLog.objects.filter(transition="approve", actor__username="bench-manager").values("request")
    rendered = CustomerMessage.objects.filter(request__in=approved, kind="decision", status="queued").exclude(
        to_email="floor@example.com"
    )
    assert rendered.count() == 10
    assert all("approved your refund request" in body for body in rendered.values_list("body", flat=True))
