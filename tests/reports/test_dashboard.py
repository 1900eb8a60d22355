"""The dashboard's figures, computed in a bounded number of SQL queries, each with a CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from factories import kolkata, make_request
from reports.helpers import denied_request, paid_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports import selectors

TODAY = kolkata(2026, 5, 29, 12)


@pytest.fixture
def history(a_manager: Any, a_finance: Any) -> dict[str, Any]:
    made: dict[str, Any] = {}
    with time_machine.travel(kolkata(2026, 5, 8, 12), tick=False):  # 2 business days after receipt
        made["paid"] = paid_request(manager=a_manager, finance=a_finance, received_at=kolkata(2026, 5, 6),
                                    amount=Decimal("80.00"))
    with time_machine.travel(kolkata(2026, 5, 13, 12), tick=False):  # 4 business days
        made["denied"] = denied_request(manager=a_manager, received_at=kolkata(2026, 5, 7))
    with time_machine.travel(kolkata(2026, 3, 31, 12), tick=False):  # late: due 2026-03-18... decided after
        made["late_denied"] = denied_request(manager=a_manager, received_at=kolkata(2026, 3, 2))
    with time_machine.travel(kolkata(2025, 3, 10, 12), tick=False):  # more than 12 months ago
        made["old"] = denied_request(manager=a_manager, received_at=kolkata(2025, 3, 3))
    with time_machine.travel(kolkata(2026, 5, 20, 12), tick=False):
        made["open_ok"] = make_request(received_at=kolkata(2026, 5, 20))
        made["open_overdue"] = make_request(reason="other", received_at=kolkata(2026, 5, 1))
        made["approved"] = make_request(received_at=kolkata(2026, 5, 19))
        services.refund_request_start_review(request=made["approved"], actor=a_manager)
        services.refund_request_approve(request=made["approved"], actor=a_manager, amount=Decimal("10.00"))
    # Stored ratings the scan left behind, all stale: the dashboard rates deadlines when it is read.
    RefundRequest.objects.filter(pk=made["open_ok"].pk).update(review_deadline_status="overdue")
    RefundRequest.objects.filter(pk=made["open_overdue"].pk).update(review_deadline_status="ok")
    RefundRequest.objects.filter(pk=made["approved"].pk).update(payout_deadline_status="overdue")
    return made


@pytest.mark.django_db
def test_dashboard_figures(history: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(12), time_machine.travel(TODAY, tick=False):
        data = selectors.dashboard_build(today=TODAY.date())
    queue = {q["state"]: q for q in data.queue}
    # Rated on 29 May: received 20 May is due 3 June (3 business days left: ok), received 1 May is
    # overdue; the approval of 20 May is due for payout 3 June (ok), whatever the stored columns say.
    assert queue["submitted"] == {"state": "submitted", "label": "Submitted", "ok": 1, "near": 0, "overdue": 1,
                                  "other": 0, "total": 2}
    assert queue["approved"] == {"state": "approved", "label": "Approved", "ok": 1, "near": 0, "overdue": 0,
                                 "other": 0, "total": 1}
    months = {m["month"]: m for m in data.monthly}
    assert months[dt.date(2026, 5, 1)] == {
        "month": dt.date(2026, 5, 1), "requests": 5, "approvals": 2, "denials": 1
    }
    assert months[dt.date(2026, 3, 1)]["denials"] == 1
    assert dt.date(2025, 3, 1) not in months and len(months) == 12
    assert data.amounts["USD"][-1]["refunded"] == Decimal("80.00")
    # 12 months: approvals paid + approved (2), denials denied + late_denied (2).
    assert data.rates_year["approval_rate"] == Decimal("50.0")
    assert data.rates_year["reviews"] == 4 and data.rates_year["reviews_met"] == 3
    assert data.rates_year["reviews_within_deadline"] == Decimal("75.0")
    assert data.rates_year["payouts_within_deadline"] == Decimal("100.0")
    assert data.rates_month["approval_rate"] == Decimal("66.7")
    # business days: paid 2, denied 4, approved 1 (19 -> 20 May), late_denied 21 (2 Mar -> 31 Mar, Holi 4 Mar)
    assert data.median["decisions_year"] == 4
    assert data.median["median_days_month"] == 2
    codes = {c["code"]: c["count"] for c in data.codes}
    assert codes["mbg_extensive_use"] == 2  # the two denials received in the window, not the old one
    assert codes["not_a_ground_dissatisfaction"] == 1
    reasons = {r["reason"]: r for r in data.reasons}
    assert reasons["other"]["requests_month"] == 1
    assert reasons["money_back_guarantee"]["approvals_year"] == 2
    assert reasons["money_back_guarantee"]["amounts"][0]["refunded_year"] == Decimal("80.00")


@pytest.mark.django_db
def test_query_count_does_not_grow_with_data(a_manager: Any, django_assert_max_num_queries: Any) -> None:
    with time_machine.travel(kolkata(2026, 5, 20, 12), tick=False):
        for i in range(15):
            make_request(received_at=kolkata(2026, 5, 4 + i % 10))
    with django_assert_max_num_queries(12):
        selectors.dashboard_build(today=TODAY.date())


@pytest.mark.django_db
def test_agents_see_the_dashboard_and_each_chart_has_a_csv(client: Any, an_agent: Any, history: Any) -> None:
    client.force_login(an_agent)
    with time_machine.travel(TODAY, tick=False):
        page = client.get("/admin/reports/dashboard/")
        assert page.status_code == 200
        html = page.content.decode()
        assert html.count("<svg") >= 5 and "cdn" not in html.lower()
        for chart in ("queue", "monthly", "amounts", "reasons", "reason_amounts", "codes", "kpis"):
            response = client.get(f"/admin/reports/dashboard/?csv={chart}")
            assert response.status_code == 200, chart
            assert response["Content-Type"].startswith("text/csv")
        kpis = list(csv.reader(io.StringIO(client.get("/admin/reports/dashboard/?csv=kpis").content.decode())))
        # Still on TODAY: sessions end after 8 idle hours, and the last request was made then.
        assert client.get("/admin/reports/dashboard/?csv=nope").status_code == 400
    assert kpis[1] == ["approval_rate_percent", "66.7", "50.0"]


@pytest.mark.django_db
def test_staff_without_view_permission_is_refused(client: Any) -> None:
    from factories import make_user

    client.force_login(make_user("outsider"))
    assert client.get("/admin/reports/dashboard/").status_code == 403
