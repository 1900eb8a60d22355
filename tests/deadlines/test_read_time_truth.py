"""Deadline truth at read time: with a frozen clock and no scan ever run, the index cards, the queue's
deadline filters and the queue's badges agree, right after requests arrive through the services and
the import, across a weekend and a public holiday; dispute evidence levels too; in constant queries.

The calendar of May 2026 used here: Friday 22 is the viewing day; Saturday 23 and Sunday 24 are a
weekend; Wednesday 27 is Eid al-Adha (a Delhi public holiday).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import tablib
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from factories import agent, invoice_with_plan, kolkata, make_request, make_user, manager

from januscaler_refunds.chargebacks.models import Dispute
from januscaler_refunds.chargebacks.services import chargeback_record
from januscaler_refunds.intake.resources import RefundRequestResource
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
QUEUE = "/admin/refunds/refundrequest/"
DISPUTES = "/admin/chargebacks/dispute/"
FRIDAY = kolkata(2026, 5, 22, 12)
MONDAY = kolkata(2026, 5, 25, 12)
CALENDAR = BusinessCalendar()


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return kolkata(day.year, day.month, day.day, hour)


def received_for_due(due: dt.date) -> dt.datetime:
    """The moment a request must arrive for its review to be due on ``due`` (10 business days)."""
    return at(CALENDAR.add_business_days(due, -10))


def arrive(received: dt.datetime) -> RefundRequest:
    invoice = invoice_with_plan(issued_on=received.date() - dt.timedelta(days=2))
    with time_machine.travel(received, tick=False):
        return make_request(invoice=invoice, received_at=received)


def approve_for_payout_due(due: dt.date, actor: Any) -> RefundRequest:
    approved_on = at(CALENDAR.add_business_days(due, -10), hour=15)
    request = arrive(approved_on - dt.timedelta(hours=3))
    with time_machine.travel(approved_on, tick=False):
        request = services.refund_request_start_review(request=request, actor=actor)
        return services.refund_request_approve(request=request, actor=actor, amount=Decimal("10.00"))


def import_request(received: dt.datetime) -> RefundRequest:
    invoice = invoice_with_plan(issued_on=received.date() - dt.timedelta(days=2))
    dataset = tablib.Dataset(headers=["reference", "invoice_number", "customer_email", "reason", "received_at",
                                      "requested_amount", "currency", "message", "documents", "state"])
    dataset.append(["IMP-0001", invoice.number, invoice.customer.email, "money_back_guarantee",
                    received.isoformat(), "", invoice.currency, "From the old system", "", "submitted"])
    with time_machine.travel(received + dt.timedelta(days=1), tick=False):
        result = RefundRequestResource().import_data(dataset, dry_run=False, use_transactions=True,
                                                     rollback_on_validation_errors=True)
    assert not result.has_errors() and not result.has_validation_errors()
    return RefundRequest.objects.get(reference="IMP-0001")


@pytest.fixture
def ann() -> Any:
    return agent("ann")


@pytest.fixture
def boss() -> Any:
    return manager("boss")


@pytest.fixture
def week(ann: Any, boss: Any) -> dict[str, RefundRequest]:
    """Requests whose deadlines fall around the weekend and the holiday, made as production makes them."""
    made = {
        "due_today": arrive(received_for_due(dt.date(2026, 5, 22))),
        "due_monday": arrive(received_for_due(dt.date(2026, 5, 25))),
        "due_tuesday": arrive(received_for_due(dt.date(2026, 5, 26))),
        "due_thursday": arrive(received_for_due(dt.date(2026, 5, 28))),  # 3 left: the holiday does not count
        "due_yesterday": arrive(received_for_due(dt.date(2026, 5, 21))),
        "due_last_week": arrive(received_for_due(dt.date(2026, 5, 15))),
        "imported": import_request(received_for_due(dt.date(2026, 5, 19))),
        "payout_monday": approve_for_payout_due(dt.date(2026, 5, 25), boss),
        "payout_overdue": approve_for_payout_due(dt.date(2026, 5, 20), boss),
    }
    paused = arrive(received_for_due(dt.date(2026, 5, 20)))
    with time_machine.travel(at(dt.date(2026, 5, 12), 11), tick=False):
        paused = services.refund_request_start_review(request=paused, actor=ann)
        made["paused"] = services.refund_request_request_information(request=paused, actor=ann,
                                                                     missing="A screenshot of the charge.")
    # No scan has ever run: every stored status column is empty.
    assert set(RefundRequest.objects.values_list("review_deadline_status", "payout_deadline_status")) == {("", "")}
    return made


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def index_figures(client: Client) -> dict[str, int]:
    html = client.get(INDEX).content.decode()
    return {key: int(value) for key, value in re.findall(r'data-value="(\w+)"[^>]*>\s*(\d+)\s*<', html)}


def queue(client: Client, **params: str) -> list[RefundRequest]:
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def badges(rows: list[RefundRequest]) -> Counter[tuple[str, str]]:
    return Counter((r.console_deadline.kind, r.console_deadline.status) for r in rows if r.console_deadline)


def test_index_filters_and_badges_agree_on_friday_before_the_holiday_week(
    week: dict[str, RefundRequest], boss: Any
) -> None:
    client = client_as(boss)
    with time_machine.travel(FRIDAY, tick=False):
        figures = index_figures(client)
        everything = queue(client, status="all")  # the queue opens on open work only
        filtered = {
            ("review", status): {r.pk for r in queue(client, deadline=status)}
            for status in ("ok", "near", "overdue", "paused")
        } | {("payout", status): {r.pk for r in queue(client, payout_deadline=status)}
             for status in ("ok", "near", "overdue")}
    shown = badges(everything)
    expected = {
        ("review", "near"): {week["due_today"].pk, week["due_monday"].pk, week["due_tuesday"].pk},
        ("review", "overdue"): {week["due_yesterday"].pk, week["due_last_week"].pk, week["imported"].pk},
        ("review", "ok"): {week["due_thursday"].pk},
        ("review", "paused"): {week["paused"].pk},
        ("payout", "near"): {week["payout_monday"].pk},
        ("payout", "overdue"): {week["payout_overdue"].pk},
        ("payout", "ok"): set(),
    }
    assert filtered == expected
    assert {key: n for key, n in shown.items()} == {key: len(pks) for key, pks in expected.items() if pks}
    assert figures["review_near"] == len(filtered[("review", "near")]) == shown[("review", "near")] == 3
    assert figures["review_overdue"] == len(filtered[("review", "overdue")]) == shown[("review", "overdue")] == 3
    assert figures["payout_near"] == len(filtered[("payout", "near")]) == shown[("payout", "near")] == 1
    assert figures["payout_overdue"] == len(filtered[("payout", "overdue")]) == shown[("payout", "overdue")] == 1
    days = {r.pk: r.console_deadline.days_left for r in everything if r.console_deadline}
    assert days[week["due_today"].pk] == 0
    assert days[week["due_monday"].pk] == 1  # the weekend does not count
    assert days[week["due_thursday"].pk] == 3  # nor does Eid al-Adha on Wednesday
    assert days[week["due_yesterday"].pk] == -1


def test_after_the_weekend_friday_is_overdue_and_thursday_turns_near(
    week: dict[str, RefundRequest], boss: Any
) -> None:
    client = client_as(boss)
    with time_machine.travel(MONDAY, tick=False):
        figures = index_figures(client)
        near = {r.pk for r in queue(client, deadline="near")}
        overdue = {r.pk for r in queue(client, deadline="overdue")}
        payout_near = {r.pk for r in queue(client, payout_deadline="near")}
    assert near == {week["due_monday"].pk, week["due_tuesday"].pk, week["due_thursday"].pk}
    assert week["due_today"].pk in overdue and len(overdue) == 4
    assert payout_near == {week["payout_monday"].pk}
    assert (figures["review_near"], figures["review_overdue"], figures["payout_near"]) == (3, 4, 1)


def test_the_review_banner_is_rated_when_the_page_is_read(week: dict[str, RefundRequest], boss: Any) -> None:
    client = client_as(boss)
    with time_machine.travel(FRIDAY, tick=False):
        html = client.get(f"{QUEUE}{week['due_monday'].pk}/change/").content.decode()
        assert 'data-status="near"' in html and "1 business day left" in html
        html = client.get(f"{QUEUE}{week['due_last_week'].pk}/change/").content.decode()
        assert 'data-status="overdue"' in html and "Review overdue" in html
        html = client.get(f"{QUEUE}{week['payout_overdue'].pk}/change/").content.decode()
        assert 'data-status="overdue"' in html and "section 4.3" in html


def test_a_transition_shows_at_once(week: dict[str, RefundRequest], boss: Any) -> None:
    client = client_as(boss)
    with time_machine.travel(FRIDAY, tick=False):
        before = index_figures(client)
        services.refund_request_approve(
            request=services.refund_request_start_review(request=week["due_today"], actor=boss),
            actor=boss, amount=Decimal("10.00"),
        )
        after = index_figures(client)
    assert after["review_near"] == before["review_near"] - 1
    assert after["awaiting_payout"] == before["awaiting_payout"] + 1


def test_dispute_evidence_levels_are_rated_without_the_scan(ann: Any) -> None:
    root = make_user("root", is_superuser=True)
    disputes = {}
    for name, due in (("past", dt.date(2026, 5, 21)), ("monday", dt.date(2026, 5, 25)),
                      ("later", dt.date(2026, 6, 5))):
        invoice = invoice_with_plan(issued_on=dt.date(2026, 5, 1))
        with time_machine.travel(kolkata(2026, 5, 14), tick=False):
            chargeback = chargeback_record(invoice=invoice, ref=f"CB-{name}", amount=Decimal("100.00"),
                                           currency=invoice.currency, network_reason="4853",
                                           received_at=kolkata(2026, 5, 14), evidence_due=due,
                                           fee=Decimal("15.00"), actor=None)
        disputes[name] = chargeback.dispute
    assert set(Dispute.objects.values_list("alert_level", flat=True)) == {""}
    client = client_as(root)
    with time_machine.travel(FRIDAY, tick=False):
        rows = {d.pk: d.evidence_level_now for d in client.get(DISPUTES).context["cl"].result_list}
        overdue = {d.pk for d in client.get(DISPUTES, {"evidence_level": "overdue"}).context["cl"].result_list}
        near = {d.pk for d in client.get(DISPUTES, {"evidence_level": "near"}).context["cl"].result_list}
        html = client.get(f"{DISPUTES}{disputes['past'].pk}/change/").content.decode()
    assert rows == {disputes["past"].pk: "overdue", disputes["monday"].pk: "near", disputes["later"].pk: ""}
    assert overdue == {disputes["past"].pk} and near == {disputes["monday"].pk}
    assert "Overdue" in html


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_pages_cost_the_same_queries_for_few_and_many_requests(boss: Any) -> None:
    client = client_as(boss)
    pages = [INDEX, QUEUE, f"{QUEUE}?deadline=near", f"{QUEUE}?deadline=overdue", f"{QUEUE}?payout_deadline=near"]

    def add(n: int) -> None:
        for i in range(n):
            request = arrive(received_for_due(CALENDAR.add_business_days(dt.date(2026, 5, 22), i % 5 - 2)))
            if i % 3 == 0:
                with time_machine.travel(at(dt.date(2026, 5, 12), 16), tick=False):
                    services.refund_request_approve(
                        request=services.refund_request_start_review(request=request, actor=boss),
                        actor=boss, amount=Decimal("10.00"),
                    )

    add(3)
    with time_machine.travel(FRIDAY, tick=False):
        for page in pages:
            client.get(page)  # warm caches (content types, session)
        few = {page: _queries(client, page) for page in pages}
    add(12)
    with time_machine.travel(FRIDAY, tick=False):
        many = {page: _queries(client, page) for page in pages}
    assert few == many
