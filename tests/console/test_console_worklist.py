"""The queue as a worklist: open requests by default, a visible open/closed/all toggle, saved views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import client_as, under_review

from januscaler_refunds.refunds import services

pytestmark = pytest.mark.django_db

QUEUE = "/admin/refunds/refundrequest/"


def test_the_queue_opens_on_open_requests_with_a_toggle_for_closed_and_all(agent_user: Any) -> None:
    open_one = factories.make_request()
    closed = services.refund_request_withdraw(request=factories.make_request(), actor=agent_user)
    client = client_as(agent_user)
    html = client.get(QUEUE).content.decode()
    assert open_one.reference in html and closed.reference not in html
    assert 'data-scope="closed"' in html and 'data-view="mine"' in html and "Awaiting payout" in html
    html = client.get(QUEUE, {"status": "closed"}).content.decode()
    assert closed.reference in html and open_one.reference not in html
    html = client.get(QUEUE, {"status": "all"}).content.decode()
    assert closed.reference in html and open_one.reference in html


def test_awaiting_payout_shows_approved_requests_though_they_are_not_open(agent_user: Any, manager_user: Any) -> None:
    approved = services.refund_request_approve(request=under_review(manager_user), actor=manager_user,
                                               amount=Decimal("100.00"))
    html = client_as(agent_user).get(QUEUE, {"state__exact": "approved"}).content.decode()
    assert approved.reference in html
    assert 'data-view="payout" class="is-active"' in html
