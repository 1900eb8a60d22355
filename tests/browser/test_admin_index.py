"""An agent logs in and lands on the start-of-day view; the figures match the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import time_machine
from browser.conftest import login
from django.utils import timezone
from factories import agent, kolkata, make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import OPEN_STATES, RefundRequest


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_lands_on_the_start_of_day_view(page: Any, artifacts_dir: Path) -> None:
    ann = agent("ann")
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
        for day in (4, 5, 6, 7, 8):
            request = make_request(received_at=kolkata(2026, 5, day))
            if day % 2:
                services.refund_request_start_review(request=request, actor=ann)
    login(page, "ann")
    page.goto("/admin/")
    page.wait_for_selector("#start-of-day")
    assert page.inner_text("[data-value=mine]").strip() == str(RefundRequest.objects.filter(assignee=ann).count())
    # Rated when the page is read from the stored due dates (deadlines/readtime.py), not the scan's
    # stored status: every request received in May 2026 is long past its review deadline today.
    overdue = RefundRequest.objects.filter(state__in=OPEN_STATES, review_due_at__lt=timezone.now()).count()
    assert overdue == 5
    assert page.inner_text("[data-value=review_overdue]").strip() == str(overdue)
    assert page.locator("[data-table=urgent] tbody tr.data-row").count() == 5
    page.screenshot(path=str(artifacts_dir / "admin_index_agent.png"), full_page=True)
    page.click("[data-kpi=mine]")
    page.wait_for_url("**/refundrequest/?assignee=mine")
