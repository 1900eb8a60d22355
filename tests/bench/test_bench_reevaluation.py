"""The re-evaluation benchmark's code (bench/reevaluation.py) on a small seed: it measures what it says,
its chunks cost the same number of queries whatever their size, and the batch stores what one-by-one
evaluation would. No speed is asserted."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from django.utils import timezone

from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.reevaluation import reevaluate_requests

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
BENCH = Path(__file__).resolve().parents[2] / "bench"
N = 2_000


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")  # the project's bench/ (pythonpath ".")


@pytest.fixture
def seeded() -> None:
    _load("seed").seed(N, verbose=False)


def test_figures_have_runs_floors_and_a_constant_query_count_per_chunk(seeded: None) -> None:
    batched, per_cpu, single = _load("reevaluation").figures(2, batch=300, one_by_one=20, chunk_size=100)
    for figure in (batched, per_cpu, single):
        assert len(figure.runs) == 2 and len(figure.floor) == 2, figure.name
        assert all(value > 0 for value in figure.runs + figure.floor), figure.name
    # Every 100-request chunk: lock, at most 10 fact queries, one UPDATE - the same for each run.
    assert len(set(batched.queries)) == 1 and batched.queries[0] <= 12, batched.queries
    assert "300 open requests per run" in batched.name
    assert single.queries[0] >= 9  # one by one: ~10 queries per request, the path it is compared with


def test_batch_results_equal_one_by_one_on_a_sample(seeded: None) -> None:
    ids = list(RefundRequest.objects.open().order_by("id").values_list("pk", flat=True)[:300])
    now = timezone.now()
    calendar = evaluation.business_calendar()
    sample = ids[::7]
    expected = {
        request.pk: evaluation.run_evaluation(request, now=now, calendar=calendar)
        for request in RefundRequest.objects.filter(pk__in=sample).select_related("invoice", "customer", "policy_version")
    }
    assert reevaluate_requests(ids, chunk_size=64, now=now, calendar=calendar) == len(ids)
    stored = {r.pk: r for r in RefundRequest.objects.filter(pk__in=sample)}
    for pk, result in expected.items():
        snapshot = {**result.to_dict(), "evaluated_at": now.isoformat()}
        assert stored[pk].evaluation == snapshot, pk
        assert stored[pk].evaluation_codes == snapshot["codes"]
        assert stored[pk].recommendation == result.recommendation
        assert stored[pk].refundable_amount == result.refundable_amount
        assert stored[pk].review_due_at == result.review_due_at
        assert stored[pk].evaluated_at == now
