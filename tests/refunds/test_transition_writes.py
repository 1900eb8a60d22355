"""Transitions lock without the evaluation JSON and write only the columns they change (issue 14)."""

from __future__ import annotations

from decimal import Decimal

import factories
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest, TransitionLog

pytestmark = pytest.mark.django_db
EVALUATION_COLUMN = '"refunds_refundrequest"."evaluation"'


def test_approve_neither_reads_nor_rewrites_the_evaluation() -> None:
    manager = factories.manager()
    refund = services.refund_request_start_review(request=factories.make_request(), actor=manager)
    snapshot = RefundRequest.objects.get(pk=refund.pk).evaluation
    with CaptureQueriesContext(connection) as ctx:
        services.refund_request_approve(request=refund, actor=manager, amount=Decimal("10.00"))
    lock = next(q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"])
    update = next(q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "refunds_refundrequest"'))
    assert f"{EVALUATION_COLUMN}," not in lock and f"{EVALUATION_COLUMN} " not in lock
    assert '"evaluation" =' not in update and '"message" =' not in update
    assert '"state" =' in update and '"approved_amount" =' in update and '"decided_at" =' in update
    stored = RefundRequest.objects.get(pk=refund.pk)
    assert stored.state == "approved" and stored.approved_amount == Decimal("10.00")
    assert stored.evaluation == snapshot  # untouched
    assert TransitionLog.objects.filter(request=refund, transition="approve").count() == 1


def test_the_state_stays_protected_after_a_partial_save() -> None:
    manager = factories.manager()
    refund = services.refund_request_start_review(request=factories.make_request(), actor=manager)
    with pytest.raises(AttributeError):
        refund.state = "approved"
