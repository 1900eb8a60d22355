"""The queue's deadline parts at scale (issue 14): ``deadline=ok`` as a lower bound on the due
column (index-usable), the business days left counted without walking the calendar day by day,
and the public holidays computed once per process while company holidays are read per page."""

from __future__ import annotations

import datetime as dt
import random

import factories
import pytest
from django.utils import timezone

from januscaler_refunds.billing.models import CompanyHoliday, PolicyVersion
from januscaler_refunds.deadlines import readtime
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db


def test_business_days_between_matches_the_calendar_day_by_day() -> None:
    calendar = BusinessCalendar([dt.date(2026, 3, 13), dt.date(2026, 12, 24), dt.date(2027, 1, 4)])
    rng = random.Random(14)
    start = dt.date(2025, 1, 1)
    for _ in range(400):
        a = start + dt.timedelta(days=rng.randrange(0, 1100))
        b = a + dt.timedelta(days=rng.randrange(-400, 400))
        assert readtime.business_days_between(calendar, a, b) == calendar.business_days_between(a, b), (a, b)
    # A company holiday on a Saturday is not subtracted twice; equal dates give 0.
    saturday = BusinessCalendar([dt.date(2026, 5, 23)])
    assert readtime.business_days_between(saturday, dt.date(2026, 5, 22), dt.date(2026, 5, 25)) == 1
    assert readtime.business_days_between(calendar, dt.date(2026, 5, 22), dt.date(2026, 5, 22)) == 0


def test_ok_is_a_lower_bound_not_a_negation() -> None:
    clock = readtime.deadline_clock()
    sql = str(RefundRequest.objects.filter(clock.review_q(readtime.OK)).query)
    assert "NOT (" not in sql.upper()
    assert '"review_due_at" >=' in sql


def _rating_of(clock: readtime.DeadlineClock, refund: RefundRequest) -> str:
    rating = clock.rate_request(refund)
    return rating.status if rating else ""


@pytest.mark.parametrize("thresholds", [(2,), (2, 5)])
def test_filters_partition_open_work_like_the_badges(thresholds: tuple[int, ...]) -> None:
    """ok / near / overdue / paused select exactly the rows whose badge says so, also when policy
    versions have different near thresholds (the filter is then one range per version)."""
    versions = list(PolicyVersion.objects.order_by("pk"))
    if len(thresholds) > 1:
        extra = PolicyVersion.objects.get(pk=versions[0].pk)
        extra.pk = None
        extra.label = "v-scale-test"
        extra.effective_date = versions[0].effective_date - dt.timedelta(days=400)
        extra.announced_on = extra.effective_date - dt.timedelta(days=30)
        extra.near_deadline_business_days = thresholds[1]
        extra.save()
        versions.append(extra)
    now = timezone.now()
    made = []
    for days in range(-6, 16):
        invoice = factories.invoice_with_plan(issued_on=(now - dt.timedelta(days=2)).date())
        refund = factories.make_request(invoice=invoice, received_at=now - dt.timedelta(days=1))
        version = versions[days % len(versions)]
        RefundRequest.objects.filter(pk=refund.pk).update(
            review_due_at=now + dt.timedelta(days=days), policy_version=version
        )
        made.append(refund.pk)
    clock = readtime.deadline_clock()
    rows = RefundRequest.objects.filter(pk__in=made).select_related("policy_version")
    rated = {refund.pk: _rating_of(clock, refund) for refund in rows}
    selected: dict[int, list[str]] = {pk: [] for pk in made}
    for status in ("ok", "near", "overdue", "paused"):
        for pk in rows.filter(clock.review_q(status)).values_list("pk", flat=True):
            selected[pk].append(status)
    assert {pk: statuses for pk, statuses in selected.items()} == {pk: [rated[pk]] for pk in made}
    assert {"ok", "near", "overdue"} <= set(rated.values())
    if len(thresholds) > 1:
        # A due date 4 business days away is near under the 5-day version and ok under the 2-day one.
        assert {clock.near_moment(2), clock.near_moment(5)} == set(clock.near_before.values())


def test_public_holidays_are_built_once_and_company_holidays_read_per_page() -> None:
    first = readtime.page_calendar()
    assert readtime.page_calendar() is first  # same company holidays: the same calendar, its years cached
    CompanyHoliday.objects.create(date=dt.date(2026, 12, 31), name="Year end")
    second = readtime.page_calendar()
    assert second is not first and dt.date(2026, 12, 31) in second.company_holidays
