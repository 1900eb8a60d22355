"""A manager opens the dashboard in Chromium; the numbers shown match the database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from browser.conftest import login
from factories import finance, kolkata, make_request, manager
from reports.helpers import denied_request, paid_request

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.refunds.models import OPEN_STATES, RefundRequest, State


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_sees_dashboard_numbers_from_the_database(page: Any, artifacts_dir: Path) -> None:
    boss, fin = manager("boss"), finance("fin")
    today = kolkata(2026, 5, 20, 12)
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):
        paid_request(manager=boss, finance=fin, received_at=kolkata(2026, 5, 6), amount=Decimal("80.00"))
        paid_request(manager=boss, finance=fin, received_at=kolkata(2026, 5, 5), amount=Decimal("45.50"))
    with time_machine.travel(kolkata(2026, 5, 13, 12), tick=False):
        denied_request(manager=boss, received_at=kolkata(2026, 5, 7))
    with time_machine.travel(kolkata(2026, 4, 30, 12), tick=False):
        denied_request(manager=boss, received_at=kolkata(2026, 4, 14))
    with time_machine.travel(today, tick=False):
        for day in (12, 15, 18, 19):
            make_request(received_at=kolkata(2026, 5, day))
        make_request(reason="other", received_at=kolkata(2026, 5, 19))
    RefundRequest.objects.filter(received_at__lt=kolkata(2026, 5, 16), state__in=OPEN_STATES).update(
        review_deadline_status="near"
    )
    RefundRequest.objects.filter(received_at__gte=kolkata(2026, 5, 16), state__in=OPEN_STATES).update(
        review_deadline_status="ok"
    )

    with time_machine.travel(today, tick=True):
        login(page, "boss")
        page.goto("/admin/reports/dashboard/")
        page.wait_for_selector("#dashboard")
        open_count = RefundRequest.objects.filter(state__in=[*OPEN_STATES, State.APPROVED]).count()
        assert page.inner_text("[data-value=queue_total]").strip() == str(open_count)
        submitted = page.locator("[data-table=queue] tr[data-state=submitted] td")
        # The state x deadline table rates at read time (deadlines/readtime.py), not from the stored
        # ratings the update above made stale on purpose.
        clock = readtime.deadline_clock()
        submitted_now = RefundRequest.objects.filter(state=State.SUBMITTED)
        assert submitted.nth(1).inner_text() == str(submitted_now.filter(clock.review_q("ok")).count())
        assert submitted.nth(2).inner_text() == str(submitted_now.filter(clock.review_q("near")).count())
        may = page.locator("[data-table=monthly] tr[data-month='2026-05'] td")
        received_in_may = RefundRequest.objects.filter(
            received_at__gte=kolkata(2026, 5, 1, 0), received_at__lt=kolkata(2026, 6, 1, 0)
        ).count()
        assert may.nth(1).text_content() == str(received_in_may)  # the table sits in a closed <details>
        # 12 months: 2 approvals, 2 denials -> 50.0 %
        assert page.inner_text("[data-value=approval_rate_year]").strip() == "50.0%"
        refunded = sum(p for p in RefundRequest.objects.filter(state=State.PAID).values_list("payout__amount", flat=True))
        assert page.inner_text("[data-value=refunded_USD]").strip() == f"{refunded:.2f}"
        assert page.locator("svg.report-chart").count() >= 5
        page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)
