"""The scan rates deadlines exactly as the policy engine does, with the clock frozen.

Reference: policy-decisions.md "Time" and ``policy.engine.deadline_status``: business days left
are those strictly after today up to and including the due date; near is at most 2 left, the due
date included; overdue is after the due date.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from factories import kolkata

from januscaler_refunds.billing.models import CompanyHoliday, PolicyVersion
from januscaler_refunds.deadlines.models import Alert
from januscaler_refunds.policy.calendar import local_date
from januscaler_refunds.policy.engine import deadline_status
from januscaler_refunds.refunds import evaluation, services
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db

D = dt.date


def test_received_on_friday_is_due_the_friday_of_the_week_after_next_and_rated_across_the_weekend(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 2, 6))  # Friday
    assert local_date(request.review_due_at) == D(2026, 2, 20)
    scan_on(D(2026, 2, 16))  # Monday: Tue..Fri = 4 left
    assert rate(request) == ("ok", "", 4)
    scan_on(D(2026, 2, 18))  # Wednesday: Thu, Fri = 2 left
    assert rate(request) == ("near", "", 2)
    scan_on(D(2026, 2, 20), hour=23)  # the due date itself, late evening: still near, not overdue
    assert rate(request) == ("near", "", 0)
    scan_on(D(2026, 2, 21))  # Saturday after: overdue, though no business day has passed
    assert rate(request) == ("overdue", "", 0)
    scan_on(D(2026, 2, 23))  # Monday after: one business day overdue
    assert rate(request) == ("overdue", "", -1)


def test_friday_before_a_weekend_with_three_days_left_is_ok_and_saturday_is_near(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 2, 2))  # Monday -> due Monday 16 February
    assert local_date(request.review_due_at) == D(2026, 2, 16)
    scan_on(D(2026, 2, 11))  # Wednesday: Thu, Fri, Mon = 3
    assert rate(request) == ("ok", "", 3)
    scan_on(D(2026, 2, 12))  # Thursday: Fri, Mon = 2
    assert rate(request) == ("near", "", 2)
    scan_on(D(2026, 2, 14))  # Saturday: Mon = 1
    assert rate(request) == ("near", "", 1)


def test_republic_day_in_delhi_is_not_a_business_day(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 1, 19))  # Monday; Monday 26 January is a public holiday
    assert local_date(request.review_due_at) == D(2026, 2, 3)
    scan_on(D(2026, 1, 23))  # Friday: 27, 28, 29, 30, 2, 3 (26 skipped)
    assert rate(request) == ("ok", "", 6)
    scan_on(D(2026, 1, 30))  # Friday: Feb 2, 3
    assert rate(request) == ("near", "", 2)
    scan_on(D(2026, 1, 29))  # Thursday: 30, 2, 3
    assert rate(request) == ("ok", "", 3)


def test_a_company_holiday_counts_from_the_next_scan(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 2, 2))  # due Monday 16 February
    scan_on(D(2026, 2, 11))
    assert rate(request) == ("ok", "", 3)
    # A manager adds a company holiday on Friday 13 February: one business day fewer before the due
    # date (the stored due date itself moves only when the request is re-evaluated).
    CompanyHoliday.objects.create(date=D(2026, 2, 13), name="Offsite")
    scan_on(D(2026, 2, 11))
    assert rate(request) == ("near", "", 2)
    with time_machine.travel(kolkata(2026, 2, 11), tick=False):
        services.refund_request_reevaluate(request=request, actor=None)
    assert local_date(RefundRequest.objects.get(pk=request.pk).review_due_at) == D(2026, 2, 17)
    scan_on(D(2026, 2, 11))
    assert rate(request) == ("ok", "", 3)


def test_the_version_threshold_decides_near(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 2, 2))  # due Monday 16 February
    PolicyVersion.objects.update(near_deadline_business_days=3)
    scan_on(D(2026, 2, 11))
    assert rate(request) == ("near", "", 3)
    PolicyVersion.objects.update(near_deadline_business_days=0)
    scan_on(D(2026, 2, 13))  # Friday, 1 left
    assert rate(request) == ("ok", "", 1)
    scan_on(D(2026, 2, 16))
    assert rate(request) == ("near", "", 0)


def test_scan_matches_the_policy_engine_every_day_for_six_weeks(rate, received_on, scan_on) -> None:
    CompanyHoliday.objects.create(date=D(2026, 3, 13), name="Offsite")
    requests = [received_on(D(2026, 2, 23) + dt.timedelta(days=i)) for i in range(0, 14, 3)]
    calendar = evaluation.business_calendar()
    day = D(2026, 3, 1)
    while day < D(2026, 4, 12):
        scan_on(day)
        for request in requests:
            review, _, left = rate(request)
            expected = deadline_status(local_date(request.review_due_at), day, calendar=calendar, near_threshold=2)
            assert (review, left) == expected, (request.reference, day)
        day += dt.timedelta(days=1)


def test_while_information_is_requested_the_clock_stops_and_nothing_alerts(rate, received_on, scan_on) -> None:
    request = received_on(D(2026, 2, 2))  # due Monday 16 February
    with time_machine.travel(kolkata(2026, 2, 3), tick=False):
        request = services.refund_request_start_review(request=request, actor=None)
    scan_on(D(2026, 2, 11))
    assert rate(request) == ("ok", "", 3)
    with time_machine.travel(kolkata(2026, 2, 11, 14), tick=False):
        services.refund_request_request_information(request=request, actor=None, missing="The invoice PDF")
    # Paused: neither near nor overdue however long the customer takes; days left stand still.
    for day in (D(2026, 2, 12), D(2026, 2, 16), D(2026, 2, 20)):
        scan_on(day)
        assert rate(request) == ("", "", 3)
    assert not Alert.objects.filter(request=request).exists()
    # The customer answers on Friday 20 February: 7 business days paused (12, 13, 16 .. 20).
    with time_machine.travel(kolkata(2026, 2, 20, 9), tick=False):
        services.refund_request_resume_review(request=request, actor=None)
    request.refresh_from_db()
    assert local_date(request.review_due_at) == D(2026, 2, 25)
    scan_on(D(2026, 2, 20))  # Mon 23, Tue 24, Wed 25: the 3 left when the clock stopped
    assert rate(request) == ("ok", "", 3)
    scan_on(D(2026, 2, 23))
    assert rate(request) == ("near", "", 2)


def test_a_version_that_does_not_pause_rates_information_requests_like_any_open_request(rate, received_on, scan_on) -> None:
    PolicyVersion.objects.update(pause_clock_on_info_request=False)
    request = received_on(D(2026, 2, 2))
    with time_machine.travel(kolkata(2026, 2, 3), tick=False):
        services.refund_request_start_review(request=request, actor=None)
        services.refund_request_request_information(request=request, actor=None, missing="The invoice PDF")
    scan_on(D(2026, 2, 17))
    assert rate(request) == ("overdue", "", -1)


def test_approved_requests_are_rated_on_the_payout_deadline_and_decided_ones_cleared(rate, received_on, scan_on) -> None:
    from decimal import Decimal

    request = received_on(D(2026, 2, 2))
    scan_on(D(2026, 2, 12))
    assert rate(request) == ("near", "", 2)
    with time_machine.travel(kolkata(2026, 2, 12), tick=False):
        services.refund_request_start_review(request=request, actor=None)
        services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
    request.refresh_from_db()
    assert local_date(request.payout_due_at) == D(2026, 2, 26)
    scan_on(D(2026, 2, 12))
    assert rate(request) == ("", "ok", 10)
    scan_on(D(2026, 2, 25))
    assert rate(request) == ("", "near", 1)
    scan_on(D(2026, 2, 27))
    assert rate(request) == ("", "overdue", -1)
    assert set(Alert.objects.filter(request=request).values_list("kind", "level")) == {
        ("review", "near"), ("payout", "near"), ("payout", "overdue"),
    }
