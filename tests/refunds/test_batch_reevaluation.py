"""Batch re-evaluation (refunds.reevaluation): the same results as one-by-one evaluation, facts read
in a fixed number of queries per chunk, decided requests left alone (issue 14)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factories
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from januscaler_refunds.billing.models import Incident, Invoice, Violation
from januscaler_refunds.refunds import evaluation, services
from januscaler_refunds.refunds.models import InformationRequest, RefundRequest
from januscaler_refunds.refunds.reevaluation import reevaluate_requests

pytestmark = pytest.mark.django_db


def _varied_requests() -> list[RefundRequest]:
    """Shapes that read every kind of fact: several invoices and requests of one customer, an SLA
    claim with incidents (service names in another case), a violation, an information request."""
    customer = factories.CustomerFactory()
    first = factories.invoice_with_plan(customer=customer)
    second = factories.invoice_with_plan(customer=customer, issued_on=dt.date(2026, 5, 5), kind="renewal")
    requests = [
        factories.make_request(invoice=first),
        factories.make_request(invoice=first, reason="billing_error", requested_amount=Decimal("20.00")),
        factories.make_request(invoice=second, reason="service_unavailability"),
        factories.make_request(reason="other"),
        factories.make_request(invoice=factories.invoice_with_plan(payment_method="crypto"), requested_amount=Decimal("5.00")),
    ]
    start = factories.kolkata(2026, 5, 5, 9)
    Incident.objects.create(ref="INC-1", service="MEET", start=start, end=start + dt.timedelta(hours=30), cause="januscaler")
    Incident.objects.create(ref="INC-2", service="other", start=start, end=start + dt.timedelta(hours=2), cause="januscaler")
    Violation.objects.create(customer=requests[3].customer, kind="aup", opened_on=dt.date(2026, 4, 1))
    InformationRequest.objects.create(request=requests[1], requested_at=start, missing="the invoice")
    return requests


def test_batch_results_equal_one_by_one_evaluation() -> None:
    requests = _varied_requests()
    now = timezone.now()
    calendar = evaluation.business_calendar()
    expected = {}
    for request in requests:
        fresh = RefundRequest.objects.select_related("invoice", "customer", "policy_version").get(pk=request.pk)
        expected[request.pk] = {**evaluation.run_evaluation(fresh, now=now, calendar=calendar).to_dict(),
                                "evaluated_at": now.isoformat()}
    assert reevaluate_requests([r.pk for r in requests], chunk_size=2, now=now, calendar=calendar) == len(requests)
    for request in requests:
        stored = RefundRequest.objects.get(pk=request.pk)
        assert stored.evaluation == expected[request.pk], request.reference
        assert stored.recommendation == expected[request.pk]["recommendation"]
        assert stored.evaluated_at == now


def _queries(ids: list[int], chunk_size: int) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        reevaluate_requests(ids, chunk_size=chunk_size)
    # Savepoints are the test's transaction around each chunk's atomic(), not the chunk's work.
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


# Per run: the company holidays, the policy versions, the open requests' customers (one per 5,000 ids).
PER_RUN = 3


def test_facts_cost_the_same_queries_for_a_chunk_of_2_and_of_6() -> None:
    requests = _varied_requests() + [factories.make_request()]
    # Both chunks hold an SLA claim (the incidents query is only made when one needs it).
    two = _queries([r.pk for r in requests[1:3]], chunk_size=10)
    six = _queries([r.pk for r in requests], chunk_size=10)
    assert len(two) == len(six), (two, six)
    # One chunk: the lock, at most 10 fact queries, one UPDATE.
    assert len(six) - PER_RUN <= 12, six


def test_queries_grow_with_the_chunks_not_the_requests() -> None:
    ids = [factories.make_request(reason="service_unavailability").pk for _ in range(6)]
    one_chunk, three_chunks = _queries(ids, chunk_size=6), _queries(ids, chunk_size=2)
    per_chunk = len(one_chunk) - PER_RUN
    assert len(three_chunks) == PER_RUN + 3 * per_chunk, (one_chunk, three_chunks)
    assert sum(sql.lstrip().startswith("UPDATE") for sql in three_chunks) == 3


def test_decided_requests_keep_their_snapshot_and_chunks_commit_separately() -> None:
    manager = factories.manager()
    decided = services.refund_request_start_review(request=factories.make_request(), actor=manager)
    services.refund_request_approve(request=decided, actor=manager, amount=Decimal("10.00"))
    before = RefundRequest.objects.get(pk=decided.pk).evaluation
    still_open = factories.make_request()
    Invoice.objects.filter(pk=still_open.invoice_id).update(amount_paid=Decimal("0.00"))
    assert reevaluate_requests([decided.pk, still_open.pk], chunk_size=1) == 1
    assert RefundRequest.objects.get(pk=decided.pk).evaluation == before
