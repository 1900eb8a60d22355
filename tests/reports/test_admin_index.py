"""The admin index (/admin/): each role's start-of-day figures, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from factories import invoice_with_plan, kolkata, make_request, make_user

from januscaler_refunds.deadlines.models import Alert
from januscaler_refunds.intake import services as intake
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports.index import dashboard_callback

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
QUEUE = "/admin/refunds/refundrequest/"


# The page is viewed at noon on Wednesday 20 May 2026 (Kolkata); due dates are made real by the
# services (received / approved on chosen business days), and no scan ever runs: the counts are
# computed from the due dates when the page is read.
VIEW = kolkata(2026, 5, 20, 12)


def _on(business_days: int, hour: int = 10) -> dt.datetime:
    """``business_days`` business days before (negative) or after the viewing day, at ``hour``."""
    day = BusinessCalendar().add_business_days(VIEW.date(), business_days)
    return kolkata(day.year, day.month, day.day, hour)


def _received(at: dt.datetime) -> RefundRequest:
    invoice = invoice_with_plan(issued_on=at.date() - dt.timedelta(days=2))
    with time_machine.travel(at, tick=False):
        return make_request(invoice=invoice, received_at=at)


def _approved(at: dt.datetime, actor: Any) -> RefundRequest:
    request = _received(at - dt.timedelta(hours=1))
    with time_machine.travel(at, tick=False):
        request = services.refund_request_start_review(request=request, actor=actor)
        return services.refund_request_approve(request=request, actor=actor, amount=Decimal("10.00"))


@pytest.fixture
def dataset(an_agent: Any, a_manager: Any, a_finance: Any) -> Iterator[dict[str, RefundRequest]]:
    made: dict[str, RefundRequest] = {}
    for key, received in (("ann_near", _on(-10)), ("ann_overdue", _on(-13))):
        request = _received(received)
        with time_machine.travel(received + dt.timedelta(hours=1), tick=False):
            made[key] = services.refund_request_start_review(request=request, actor=an_agent)
    made["free_ok"] = _received(VIEW - dt.timedelta(days=1))  # due in two weeks
    made["free_overdue"] = _received(_on(-15))
    made["approved_near"] = _approved(_on(-9), a_manager)  # payout due tomorrow: 1 business day left
    made["approved_overdue"] = _approved(_on(-12), a_manager)  # payout due 2 business days ago
    made["paid"] = _approved(_on(-1), a_manager)
    with time_machine.travel(_on(-1, hour=15), tick=False):
        services.refund_request_record_payout(
            request=made["paid"], actor=a_finance, method="card", reference="ch_1", amount=Decimal("10.00")
        )
    with time_machine.travel(VIEW, tick=False):
        # One open triage item (mail with no invoice number), one alert raised today, one yesterday.
        intake.ingest_raw_message(b"From: someone@example.com\nSubject: hello\n\nPlease refund me.\n",
                                  location="test")
        now = timezone.now()
        for created, level in ((now, "near"), (now - timezone.timedelta(days=1), "overdue")):
            Alert.objects.create(subject_type="refund_request", subject_id=made["ann_near"].pk,
                                 request=made["ann_near"], kind="review", level=level, due_at=now,
                                 created_at=created, token=level)
        # No scan has run: every stored status column is still empty.
        assert not RefundRequest.objects.exclude(review_deadline_status="", payout_deadline_status="").exists()
        yield made


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figures(html: str) -> dict[str, int]:
    return {key: int(value) for key, value in re.findall(r'data-value="(\w+)"[^>]*>\s*(\d+)\s*<', html)}


def test_an_agent_sees_their_queue_triage_and_alerts(dataset: dict[str, RefundRequest], an_agent: Any) -> None:
    response = client_as(an_agent).get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert figures(html) == {
        "mine": 2, "unassigned": 2, "review_near": 1, "review_overdue": 2,
        "awaiting_payout": 2, "payout_near": 1, "payout_overdue": 1,
        "triage_open": 1, "alerts_today": 1,
    }
    keys = [kpi.key for kpi in response.context["start_kpis"]]
    assert keys[0] == "mine"  # reviews first for the people who review
    # Links into the queue's own filters.
    assert f'href="{QUEUE}?assignee=mine"' in html
    assert f'href="{QUEUE}?assignee=unassigned"' in html
    assert f'href="{QUEUE}?deadline=near"' in html
    assert f'href="{QUEUE}?deadline=overdue"' in html
    assert f'href="{QUEUE}?state__exact=approved"' in html
    assert f'href="{QUEUE}?payout_deadline=near"' in html
    assert f'href="{QUEUE}?payout_deadline=overdue"' in html
    assert 'href="/admin/intake/triageitem/?status__exact=open"' in html
    assert reverse("reports:dashboard") in html
    # The app list is still there below.
    assert 'id="start-of-day"' in html and "Refund requests" in html


def test_the_urgent_table_lists_open_requests_by_review_due_date(
    dataset: dict[str, RefundRequest], an_agent: Any
) -> None:
    response = client_as(an_agent).get(INDEX)
    rows = response.context["start_urgent"]["rows"]
    expected = list(
        RefundRequest.objects.filter(state__in=["submitted", "under_review", "info_requested"])
        .order_by("review_due_at", "received_at", "id")
        .values_list("pk", "reference")
    )
    assert len(rows) == len(expected) == 4
    for row, (pk, reference) in zip(rows, expected, strict=True):
        assert f'href="{reverse("admin:refunds_refundrequest_change", args=[pk])}"' in str(row[0])
        assert reference in str(row[0])
    html = response.content.decode()
    assert dataset["paid"].reference not in html and dataset["approved_near"].reference not in html


def test_a_manager_sees_the_same_queue_without_requests_of_their_own(
    dataset: dict[str, RefundRequest], a_manager: Any
) -> None:
    response = client_as(a_manager).get(INDEX)
    assert response.status_code == 200
    got = figures(response.content.decode())
    assert got["mine"] == 0  # their requests are approved, no longer open
    assert got["unassigned"] == 2 and got["review_overdue"] == 2
    assert got["triage_open"] == 1 and got["alerts_today"] == 1


def test_finance_sees_payouts_first_and_no_triage_or_alerts(
    dataset: dict[str, RefundRequest], a_finance: Any
) -> None:
    response = client_as(a_finance).get(INDEX)
    assert response.status_code == 200
    got = figures(response.content.decode())
    assert got == {
        "awaiting_payout": 2, "payout_near": 1, "payout_overdue": 1,
        "unassigned": 2, "review_near": 1, "review_overdue": 2,
    }
    keys = [kpi.key for kpi in response.context["start_kpis"]]
    assert keys[:3] == ["awaiting_payout", "payout_near", "payout_overdue"]


def test_a_user_without_permissions_sees_no_counts(dataset: dict[str, RefundRequest]) -> None:
    nobody = make_user("nobody")
    response = client_as(nobody).get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["start_kpis"] == [] and response.context["start_urgent"] is None
    assert 'id="start-of-day"' not in html and "data-value=" not in html
    assert dataset["ann_near"].reference not in html
    assert "Dashboard and charts" not in html  # (the sidebar's own Dashboard item is not ours)


def _page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(INDEX).status_code == 200
    return len(ctx.captured_queries)


def test_the_index_costs_the_same_queries_for_5_and_50_requests(an_agent: Any, a_manager: Any) -> None:
    def add(n: int) -> None:
        with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
            for i in range(n):
                request = make_request()
                if i % 2:
                    services.refund_request_start_review(request=request, actor=an_agent)

    client = client_as(an_agent)
    add(5)
    client.get(INDEX)  # warm caches (content types, session)
    few = _page_queries(client)
    add(45)
    many = _page_queries(client)
    assert few == many, (few, many)
    assert len(client.get(INDEX).context["start_urgent"]["rows"]) == 10


def test_the_callback_itself_runs_four_queries(an_agent: Any, dataset: dict[str, RefundRequest]) -> None:
    request = RequestFactory().get(INDEX)
    request.user = an_agent
    an_agent.has_perm("refunds.view_refundrequest")  # load the permission cache first
    with CaptureQueriesContext(connection) as ctx:
        context = dashboard_callback(request, {})
    # Today's clock (company holidays, policy versions), refund-request counts, the urgent list,
    # open triage items, today's alerts.
    assert len(ctx.captured_queries) == 6, [q["sql"] for q in ctx.captured_queries]
    assert len(context["start_kpis"]) == 9
