"""The demo dataset is a believable working day relative to the day it is loaded, the same for a date."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from factories import kolkata

from januscaler_refunds.chargebacks.models import Dispute
from januscaler_refunds.deadlines import readtime
from januscaler_refunds.intake.models import TriageItem
from januscaler_refunds.policy.calendar import local_date
from januscaler_refunds.refunds.demo_story import APPROVING
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.roles import MANAGER

pytestmark = pytest.mark.django_db

FRIDAY_NOON = kolkata(2026, 11, 27, 12)  # the day after Guru Nanak's Birthday week; Monday is next


@pytest.fixture(autouse=True)
def small_limits(settings: Any, tmp_path: Any) -> None:
    settings.DEBUG = True
    settings.MEDIA_ROOT = str(tmp_path)
    # The too-large triage item is a message one byte over the limit: keep the limit small here.
    settings.INTAKE_MAX_MESSAGE_BYTES = 64 * 1024


def load() -> None:
    call_command("demo_data", "--customers", "100", "--requests", "110", verbosity=0)


def test_a_believable_working_day_relative_to_today() -> None:
    """One load (a minute of services), every property of the day checked on it."""
    with time_machine.travel(FRIDAY_NOON, tick=False):
        load()
        clock = readtime.deadline_clock()
    reviews_are_due_today_and_tomorrow_and_overdue_by_days_not_months(clock)
    decisions_are_spread_over_past_weeks_with_consistent_times(clock)
    every_approval_follows_the_recommendation_or_is_a_recorded_manager_override()
    one_open_triage_item_of_each_kind_made_by_the_intake()
    disputes_have_evidence_due_in_the_coming_days(clock)


def reviews_are_due_today_and_tomorrow_and_overdue_by_days_not_months(loaded: readtime.DeadlineClock) -> None:
    open_rows = RefundRequest.objects.filter(loaded.review_running()).select_related("policy_version")
    left = [loaded.rate_request(r).days_left for r in open_rows]  # type: ignore[union-attr]
    assert left.count(0) >= 2, left  # due today
    assert left.count(1) >= 1, left  # due on the next business day (Monday)
    overdue = [-d for d in left if d is not None and d < 0]
    assert len(overdue) >= 3 and max(overdue) <= 10, overdue  # business days, not months
    assert sum(1 for d in left if d is not None and d > 2) >= 10  # a backlog within its deadline
    assert RefundRequest.objects.filter(loaded.review_q("paused")).count() >= 3
    assert RefundRequest.objects.filter(loaded.payout_q("near")).exists()
    assert RefundRequest.objects.filter(loaded.payout_q("overdue")).exists()


def decisions_are_spread_over_past_weeks_with_consistent_times(loaded: readtime.DeadlineClock) -> None:
    decided = list(RefundRequest.objects.exclude(decided_at=None).prefetch_related("log"))
    assert len(decided) >= 40
    weeks = {(loaded.today - r.decided_at.date()).days // 7 for r in decided}  # type: ignore[union-attr]
    assert len(weeks) >= 5 and max(weeks) <= 9, weeks
    start_of_today = readtime.start_of_day(loaded.today)
    to_decision = []
    for request in decided:
        assert request.received_at < request.decided_at < start_of_today, request.reference  # type: ignore[operator]
        to_decision.append(loaded.calendar.business_days_between(
            local_date(request.received_at), local_date(request.decided_at)))  # type: ignore[arg-type]
        times = [entry.at for entry in request.log.all()]
        assert times == sorted(times) and times[0] == request.received_at, request.reference
        decision = [e for e in request.log.all() if e.transition in ("approve", "deny")]
        if decision:
            assert decision[0].at == request.decided_at, request.reference
    assert max(to_decision) <= 12 and sorted(to_decision)[len(to_decision) // 2] <= 5, to_decision
    # Approvals this month are not more than the requests decided this month (issue 11's 22 for 10).
    this_month = [r for r in decided if r.decided_at.month == loaded.today.month]  # type: ignore[union-attr]
    assert sum(r.approved_amount is not None for r in this_month) <= len(this_month)


def every_approval_follows_the_recommendation_or_is_a_recorded_manager_override() -> None:
    approved = list(RefundRequest.objects.filter(state__in=["approved", "paid", "credited"])
                    .select_related("overridden_by"))
    assert len(approved) >= 5
    for request in approved:
        if request.recommendation in APPROVING:
            continue
        assert request.override_reason.strip(), request.reference
        assert request.overridden_by is not None and request.overridden_by.groups.filter(name=MANAGER).exists()


def one_open_triage_item_of_each_kind_made_by_the_intake() -> None:
    open_items = list(TriageItem.objects.filter(status=TriageItem.Status.OPEN).select_related("message"))
    kinds = sorted(item.reason for item in open_items)
    # internal_error is the intake's own bug: no well-formed message produces it.
    expected = sorted(set(TriageItem.Reason.values) - {TriageItem.Reason.INTERNAL_ERROR})
    assert kinds == expected
    assert all(item.message.location for item in open_items)  # each came through ingest_raw_message


def disputes_have_evidence_due_in_the_coming_days(loaded: readtime.DeadlineClock) -> None:
    due = sorted(Dispute.objects.filter(state="open").values_list("evidence_due", flat=True))
    left = [loaded.calendar.business_days_between(loaded.today, d) for d in due]
    assert sum(1 for d in left if 0 < d <= 5) >= 3, left
    assert Dispute.objects.filter(loaded.evidence_q("near")).exists()


def snapshot() -> list[tuple[Any, ...]]:
    rows = RefundRequest.objects.select_related("invoice").order_by("received_at", "invoice__number")
    return [
        (r.invoice.number, r.reason, r.state, r.recommendation, r.received_at, r.decided_at, r.approved_amount,
         r.review_due_at, r.payout_due_at, r.override_reason)
        for r in rows
    ] + sorted((t.reason, _REFERENCE.sub("RR-#", t.message.subject)) for t in TriageItem.objects.select_related("message"))


# References come from a database sequence (refunds/references.py), which a rolled-back load does
# not give back: the same date gives the same data, numbered from wherever the sequence stands.
_REFERENCE = re.compile(r"RR-\d+")


def test_the_same_date_gives_the_same_data_and_a_second_run_changes_nothing() -> None:
    with time_machine.travel(FRIDAY_NOON, tick=False):
        with transaction.atomic():
            load()
            first = snapshot()
            transaction.set_rollback(True)
        load()
        second = snapshot()
        load()  # idempotent: the data is already there
        third = snapshot()
    assert first == second == third
    assert len(first) > 100
    with time_machine.travel(FRIDAY_NOON + dt.timedelta(days=3), tick=False):
        load()
    assert snapshot() == second
