"""The queue: constant queries per page, filters, search, actions, export links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import client_as, fresh, under_review
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.admin import RefundRequestAdmin
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db
QUEUE = "/admin/refunds/refundrequest/"


def make_many(n: int, agent: Any) -> None:
    """Requests of several customers, a third of them claimed, so rows differ in what they join."""
    for i in range(n):
        refund = factories.make_request(requested_amount=Decimal("10.00") + i)
        if i % 3 == 0:
            services.refund_request_start_review(request=refund, actor=agent)


def queries_for(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# With no filter, and with every kind of filter at once (each may add its own fixed query).
@pytest.mark.parametrize("query", ["", "?state=under_review&assignee=mine&deadline=ok&q=Customer&invoice__payment_method=card"])
def test_the_queue_costs_the_same_queries_for_25_and_100_rows(agent_user: Any, query: str, monkeypatch: Any) -> None:
    make_many(100, agent_user)
    client = client_as(agent_user)
    client.get(QUEUE)  # warm caches (content types, session)
    counts = {}
    for per_page in (25, 100):
        monkeypatch.setattr(RefundRequestAdmin, "list_per_page", per_page)
        counts[per_page] = queries_for(client, QUEUE + query)
    monkeypatch.setattr(RefundRequestAdmin, "list_per_page", 100)
    if not query:
        assert client.get(QUEUE).content.decode().count('name="_selected_action"') == 100
    assert counts[25] == counts[100], counts
    print(f"queue{query or ' (no filter)'}: {counts[25]} queries at 25 and at 100 rows")


def test_the_queue_is_ordered_by_review_deadline(agent_user: Any) -> None:
    late = factories.make_request(received_at=factories.kolkata(2026, 5, 6))
    early = factories.make_request(received_at=factories.kolkata(2026, 5, 5))
    html = client_as(agent_user).get(QUEUE).content.decode()
    assert html.index(early.reference) < html.index(late.reference)


def test_search_by_invoice_number_customer_email_and_name(agent_user: Any) -> None:
    refund = factories.make_request()
    other = factories.make_request()
    client = client_as(agent_user)
    for term in (refund.reference, refund.invoice.number, refund.customer.email, refund.customer.name):
        html = client.get(QUEUE, {"q": term}).content.decode()
        assert refund.reference in html and other.reference not in html, term


def test_assignee_filter_mine_and_unassigned(agent_user: Any) -> None:
    mine = under_review(agent_user)
    nobody = factories.make_request()
    client = client_as(agent_user)
    html = client.get(QUEUE, {"assignee": "mine"}).content.decode()
    assert mine.reference in html and nobody.reference not in html
    html = client.get(QUEUE, {"assignee": "unassigned"}).content.decode()
    assert nobody.reference in html and mine.reference not in html


def test_deadline_status_filter(agent_user: Any) -> None:
    now = timezone.now()
    overdue = factories.make_request(invoice=factories.invoice_with_plan(issued_on=(now - dt.timedelta(days=40)).date()),
                                     received_at=now - dt.timedelta(days=35))
    fresh_one = factories.make_request(invoice=factories.invoice_with_plan(issued_on=now.date()), received_at=now)
    client = client_as(agent_user)
    html = client.get(QUEUE, {"deadline": "overdue"}).content.decode()
    assert overdue.reference in html and fresh_one.reference not in html
    html = client.get(QUEUE, {"deadline": "ok"}).content.decode()
    assert fresh_one.reference in html and overdue.reference not in html
    # Overdue rows are shown in red.
    assert "overdue" in client.get(QUEUE).content.decode()


def test_state_reason_and_payment_method_filters(agent_user: Any) -> None:
    crypto = factories.make_request(invoice=factories.invoice_with_plan(payment_method="crypto"), reason="billing_error")
    card = factories.make_request()
    client = client_as(agent_user)
    html = client.get(QUEUE, {"invoice__payment_method": "crypto"}).content.decode()
    assert crypto.reference in html and card.reference not in html
    html = client.get(QUEUE, {"reason": "billing_error"}).content.decode()
    assert crypto.reference in html and card.reference not in html
    html = client.get(QUEUE, {"state": "submitted"}).content.decode()
    assert crypto.reference in html


def test_received_date_range_includes_both_days(agent_user: Any) -> None:
    inside = factories.make_request(received_at=factories.kolkata(2026, 5, 6, 23, 30))
    outside = factories.make_request(received_at=factories.kolkata(2026, 5, 7, 0, 30))
    html = client_as(agent_user).get(
        QUEUE, {"received_at_from": "2026-05-06", "received_at_to": "2026-05-06"}
    ).content.decode()
    assert inside.reference in html and outside.reference not in html


def test_assign_to_me_and_assign_to_an_agent(agent_user: Any) -> None:
    other = factories.agent("agent2")
    refund = factories.make_request()
    client = client_as(agent_user)
    client.post(QUEUE, {"action": "assign_to_me", "_selected_action": [refund.pk]})
    assert fresh(refund).assignee == agent_user
    page = client.post(QUEUE, {"action": "assign_to", "_selected_action": [refund.pk]})
    assert b"Assign 1 request" in page.content
    client.post(QUEUE, {"action": "assign_to", "_selected_action": [refund.pk], "apply": "1", "assignee": other.pk})
    assert fresh(refund).assignee == other


def test_reevaluate_action(agent_user: Any) -> None:
    refund = factories.make_request()
    RefundRequest.objects.filter(pk=refund.pk).update(recommendation="")
    client_as(agent_user).post(QUEUE, {"action": "reevaluate", "_selected_action": [refund.pk]})
    assert fresh(refund).recommendation == "approve"


def test_finance_has_no_queue_actions(finance_user: Any) -> None:
    refund = factories.make_request()
    client_as(finance_user).post(QUEUE, {"action": "assign_to_me", "_selected_action": [refund.pk]})
    assert fresh(refund).assignee is None


def test_export_links_only_for_exporters(agent_user: Any, manager_user: Any) -> None:
    factories.make_request()
    export = reverse("reports:refund_export")
    assert export not in client_as(agent_user).get(QUEUE).content.decode()
    html = client_as(manager_user).get(QUEUE, {"state": "submitted"}).content.decode()
    assert f"{export}?state=submitted&amp;status=open&amp;format=csv" in html
    assert f"{export}?state=submitted&amp;status=open&amp;format=xlsx" in html
