"""Two real PostgreSQL connections race to decide one request: exactly one wins."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from factories import make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest, State, TransitionLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(request_pk: int, actions: list[str]) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(actions))
    won: list[str] = []
    refused: list[str] = []

    def run(action: str) -> None:
        try:
            request = RefundRequest.objects.get(pk=request_pk)
            barrier.wait(timeout=10)
            if action == "approve":
                services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
            elif action == "deny":
                services.refund_request_deny(request=request, actor=None, codes=["window_expired"], message="late")
            else:
                services.refund_request_withdraw(request=request, actor=None)
            won.append(action)
        except services.TransitionRefused as exc:
            refused.append(exc.rule)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return won, refused


@pytest.mark.parametrize("actions", [["approve", "deny"], ["approve", "approve"], ["deny", "withdraw"]])
def test_only_one_of_two_racing_transitions_succeeds(actions: list[str]) -> None:
    assert connection.vendor == "postgresql"
    for _ in range(3):
        request = make_request()
        request = services.refund_request_start_review(request=request, actor=None)
        won, refused = _race(request.pk, actions)
        assert len(won) == 1, (won, refused)
        assert len(refused) == 1 and refused[0].startswith("state_machine.")
        request.refresh_from_db()
        assert request.state in {State.APPROVED, State.DENIED, State.WITHDRAWN}
        # One decision, one log row for it.
        decisions = TransitionLog.objects.filter(request=request, from_state=State.UNDER_REVIEW)
        assert decisions.count() == 1
