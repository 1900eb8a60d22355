"""The queue draws its rows without a template per cell (issue 14) and they read the same as before.

``queue.fast_rows`` builds each row from per-page parts; unfold's ``items_for_result`` is the
reference: the table must be byte-for-byte what unfold would have drawn, for every kind of row
(claimed, unassigned, overdue, paused, awaiting payout, closed), with and without the action
checkbox, and with filters carried in the row links.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import approved, client_as, under_review
from django.utils import timezone

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.admin import QueueChangeList, badge

pytestmark = pytest.mark.django_db
QUEUE = "/admin/refunds/refundrequest/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _table(html: str) -> str:
    match = re.search(r'<table id="result_list".*?</table>', html, re.S)
    assert match, "no result list on the page"
    return match.group(0)


def _mixed_queue(agent: Any) -> dict[str, Any]:
    now = timezone.now()
    old = factories.invoice_with_plan(issued_on=(now - dt.timedelta(days=40)).date())
    rows = {
        "claimed": under_review(agent),
        "unassigned": factories.make_request(reason="billing_error", requested_amount=Decimal("1234.50")),
        "overdue": factories.make_request(invoice=old, received_at=now - dt.timedelta(days=35)),
        "payout": approved(agent, amount=Decimal("40.00")),
    }
    paused = under_review(agent)
    rows["paused"] = services.refund_request_request_information(
        request=paused, actor=agent, missing="A copy of the statement"
    )
    return rows


@pytest.mark.parametrize("query", ["", "?status=all", "?status=all&deadline=overdue", "?q=RR-&status=all&o=2.-3"])
def test_fast_rows_match_unfolds_cells(query: str, monkeypatch: Any) -> None:
    agent = factories.agent()
    _mixed_queue(agent)
    finance = factories.finance()
    for user in (agent, finance):  # with and without the action checkbox column
        client = client_as(user)
        fast = _table(client.get(QUEUE + query).content.decode())
        monkeypatch.setattr(QueueChangeList, "draws_rows_fast", False)
        stock = _table(client.get(QUEUE + query).content.decode())
        monkeypatch.setattr(QueueChangeList, "draws_rows_fast", True)
        assert fast == stock, user.username
        assert fast.count("<tr") > 1


def test_rows_read_in_words_with_unfolds_badges() -> None:
    agent = factories.agent()
    rows = _mixed_queue(agent)
    html = _table(client_as(agent).get(QUEUE, {"status": "all"}).content.decode())
    for refund in rows.values():
        assert refund.reference in html
    # Labels, never stored codes or None; the badge colours are unfold's label classes.
    assert "Under review" in html and "Information requested" in html and "Approved" in html
    assert "under_review" not in html and "info_requested" not in html and "None" not in html
    assert str(badge("danger", "3 overdue")).startswith('<span class="inline-block font-semibold rounded-default')
    assert "bg-red-100 text-red-700" in html  # the overdue request
    assert "bg-orange-100 text-orange-700" in html and ">paused<" in html  # clock paused while asked
    assert "1,234.50 / " in html  # money grouped, in the request's currency
    assert 'name="_selected_action"' in html and 'aria-label="Select record"' in html


def test_no_template_is_rendered_per_row() -> None:
    agent = factories.agent()
    client = client_as(agent)
    counts = {}
    made = 0
    for n in (3, 12):
        while made < n:
            factories.make_request()
            made += 1
        response = client.get(QUEUE, {"status": "all"})
        assert response.content.decode().count('name="_selected_action"') == n
        templates = [t.name for t in response.templates]
        assert "unfold/helpers/label.html" not in templates
        assert "unfold/helpers/actions_row.html" not in templates
        counts[n] = len(templates)
    assert counts[3] == counts[12], counts
