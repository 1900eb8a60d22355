"""The dashboard from the day figures PostgreSQL keeps equals the dashboard computed from the requests,
figure for figure, through every kind of change (reports/aggregates.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from factories import invoice_with_plan, kolkata, make_request
from reports.helpers import denied_request, paid_request

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.reports import aggregates, index, selectors

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
TODAY = kolkata(2026, 5, 29, 12)
DAY = TODAY.date()


def both_ways(today: dt.date = DAY) -> tuple[selectors.Dashboard, selectors.Dashboard]:
    with time_machine.travel(kolkata(today.year, today.month, today.day, 12), tick=False):
        return (selectors.dashboard_build(today=today, live=True),
                selectors.dashboard_build(today=today, live=False))


def assert_same(today: dt.date = DAY) -> selectors.Dashboard:
    live, kept = both_ways(today)
    for name in (f.name for f in dataclasses.fields(selectors.Dashboard)):
        assert getattr(kept, name) == getattr(live, name), name
    # The admin index cards too, for every user who has requests assigned (and one without).
    with time_machine.travel(kolkata(today.year, today.month, today.day, 12), tick=False):
        clock = readtime.deadline_clock()
        for user in [*get_user_model().objects.all(), get_user_model()(pk=0)]:
            assert index.request_counts(user, clock, live=False) == index.request_counts(user, clock, live=True)
    return live


def _approved(manager: Any, received_at: dt.datetime, amount: Decimal, **kwargs: Any) -> RefundRequest:
    invoice = invoice_with_plan(amount, issued_on=(received_at - dt.timedelta(days=2)).date(), **kwargs)
    request = make_request(invoice=invoice, received_at=received_at)
    services.refund_request_start_review(request=request, actor=manager)
    return services.refund_request_approve(request=request, actor=manager, amount=amount)


@pytest.fixture
def varied(a_manager: Any, a_finance: Any) -> dict[str, Any]:
    made: dict[str, Any] = {}
    for day, amount in ((6, "80.00"), (12, "45.50")):
        with time_machine.travel(kolkata(2026, 5, day + 2, 12), tick=False):
            made[f"paid_{day}"] = paid_request(manager=a_manager, finance=a_finance,
                                               received_at=kolkata(2026, 5, day), amount=Decimal(amount))
    with time_machine.travel(kolkata(2026, 4, 9, 12), tick=False):
        made["paid_eur"] = paid_request(manager=a_manager, finance=a_finance, received_at=kolkata(2026, 4, 1),
                                        amount=Decimal("19.99"), currency="EUR")
    with time_machine.travel(kolkata(2026, 5, 13, 12), tick=False):
        made["denied"] = denied_request(manager=a_manager, received_at=kolkata(2026, 5, 7))
    with time_machine.travel(kolkata(2026, 3, 31, 12), tick=False):
        made["late_denied"] = denied_request(manager=a_manager, received_at=kolkata(2026, 3, 2))
    with time_machine.travel(kolkata(2025, 3, 10, 12), tick=False):
        made["old"] = denied_request(manager=a_manager, received_at=kolkata(2025, 3, 3))
    with time_machine.travel(kolkata(2026, 5, 18, 12), tick=False):
        credited = _approved(a_manager, kolkata(2026, 5, 11), Decimal("30.00"))
        made["credited"] = services.refund_request_grant_credit(request=credited, actor=a_finance,
                                                                amount=Decimal("30.00"))
    with time_machine.travel(kolkata(2026, 5, 20, 12), tick=False):
        made["open_ok"] = make_request(received_at=kolkata(2026, 5, 20))
        made["open_overdue"] = make_request(reason="other", received_at=kolkata(2026, 5, 1))
        made["approved"] = _approved(a_manager, kolkata(2026, 5, 19), Decimal("10.00"))
        made["withdrawn"] = make_request(received_at=kolkata(2026, 5, 15))
        services.refund_request_withdraw(request=made["withdrawn"], actor=a_manager)
        made["info"] = make_request(received_at=kolkata(2026, 5, 18))
        services.refund_request_start_review(request=made["info"], actor=a_manager)
        services.refund_request_request_information(request=made["info"], actor=a_manager, missing="the invoice")
    return made


def test_every_figure_equals_the_live_computation(varied: dict[str, Any], a_manager: Any, a_finance: Any) -> None:
    live = assert_same()
    # The data exercise every figure: amounts in two currencies, credits, codes, both rates.
    assert set(live.amounts) == {"USD", "EUR"}
    assert live.rates_year["approvals"] >= 4 and live.rates_year["denials"] == 2
    assert any(a["credited_year"] for r in live.reasons for a in r["amounts"])
    assert live.codes and live.median["decisions_year"] >= 6

    # Changes after the fact, each checked: a reason changed, codes rewritten by a bulk update (the
    # batched re-evaluation's path), a denial, a payout, history imported into a past month.
    with time_machine.travel(kolkata(2026, 5, 25, 12), tick=False):
        services.refund_request_change_reason(request=varied["open_ok"], actor=a_manager, reason="billing_error")
    assert_same()
    RefundRequest.objects.filter(pk=varied["open_overdue"].pk).update(evaluation_codes=["x_code", "y_code", "x_code"])
    assert_same()
    services.refund_request_assign(request=varied["open_ok"], actor=a_manager, assignee=a_finance)
    RefundRequest.objects.filter(pk=varied["info"].pk).update(review_due_at=None)
    assert_same()
    with time_machine.travel(kolkata(2026, 5, 28, 12), tick=False):
        services.refund_request_start_review(request=varied["open_overdue"], actor=a_manager)
        services.refund_request_deny(request=varied["open_overdue"], actor=a_manager, codes=["mbg_extensive_use"],
                                     message="No.")
    assert_same()
    with time_machine.travel(kolkata(2026, 5, 29, 11), tick=False):
        services.refund_request_record_payout(request=varied["approved"], actor=a_finance, method="card",
                                              reference="ch_9", amount=Decimal("10.00"))
    assert_same()
    with time_machine.travel(kolkata(2026, 5, 26, 12), tick=False):
        imported = make_request(received_at=kolkata(2026, 2, 2))
        services.refund_request_import_history(request=imported, actor=None, target="denied",
                                               decided_at=kolkata(2026, 2, 20))
    assert_same()
    # Other windows (the month boundary moves the "this month" figures), then folded and rebuilt.
    assert_same(dt.date(2026, 6, 1))
    assert_same(dt.date(2026, 4, 30))
    assert aggregates.deltas() > 0
    aggregates.fold()
    assert aggregates.deltas() == 0
    assert_same()
    aggregates.rebuild()
    assert_same()
    assert_same(dt.date(2027, 3, 31))


def test_sums_add_up(varied: dict[str, Any]) -> None:
    _, kept = both_ways()
    monthly = {m["month"]: m for m in kept.monthly}
    this = monthly[dt.date(2026, 5, 1)]
    reasons = kept.reasons
    assert sum(r["requests_month"] for r in reasons) == this["requests"]
    assert sum(r["approvals_month"] for r in reasons) == this["approvals"] == kept.rates_month["approvals"]
    assert sum(r["denials_year"] for r in reasons) == sum(m["denials"] for m in kept.monthly)
    for currency, months in kept.amounts.items():
        by_reason = [a for r in reasons for a in r["amounts"] if a["currency"] == currency]
        assert sum(a["refunded_year"] for a in by_reason) == sum(m["refunded"] for m in months)
        assert sum(a["credited_year"] for a in by_reason) == sum(m["credited"] for m in months)
        assert all(isinstance(m["refunded"], Decimal) for m in months)
    in_play = RefundRequest.objects.filter(state__in=[q["state"] for q in kept.queue])
    for row in kept.queue:
        assert row["ok"] + row["near"] + row["overdue"] + row["other"] == row["total"]
        assert row["total"] == in_play.filter(state=row["state"]).count(), row  # each row counted once
    assert {q["state"]: q["other"] for q in kept.queue}["info_requested"] == 1  # the paused clock
    assert kept.median["decisions_year"] == kept.rates_year["approvals"] + kept.rates_year["denials"]


def test_the_figures_survive_bulk_statements(varied: dict[str, Any]) -> None:
    """A statement that inserts or deletes many requests at once (imports, seeds) is counted once
    per statement; TRUNCATE empties the figures."""
    template = varied["open_ok"]
    overrides = {"reference": "'BULK-' || g", "received_at": "t.received_at - g * interval '9 days'",
                 "evaluation_codes": "'[\"bulk\"]'::jsonb", "thread_message_id": "''"}
    columns = [f.column for f in RefundRequest._meta.concrete_fields if f.column != "id"]
    select = ", ".join(overrides.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO refunds_refundrequest ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
            f"SELECT {select} FROM refunds_refundrequest t CROSS JOIN generate_series(1, 40) g WHERE t.id = %s",
            [template.pk],
        )
    live = assert_same()
    assert any(c["code"] == "bulk" for c in live.codes)
    RefundRequest.objects.filter(reference__startswith="BULK-").delete()
    assert_same()


def test_cards_and_table_with_versions_of_different_thresholds(varied: dict[str, Any]) -> None:
    """Two policy versions, different near thresholds, one that keeps the clock running while
    information is requested: the in-play figures rate each row with its own version."""
    from januscaler_refunds.billing.models import PolicyVersion

    version = PolicyVersion.objects.get(pk=varied["info"].policy_version_id)
    version.pk = None
    version.effective_date = version.effective_date + dt.timedelta(days=1)
    version.near_deadline_business_days = 5
    version.pause_clock_on_info_request = not version.pause_clock_on_info_request
    version.label = f"{version.label} (bis)"
    version.save()
    RefundRequest.objects.filter(pk__in=[varied["info"].pk, varied["open_ok"].pk]).update(policy_version=version)
    for day in (DAY, dt.date(2026, 5, 27), dt.date(2026, 6, 2)):
        assert_same(day)
