"""Sections 4.2 and 4.3: review and payout deadlines in business days, and how near they are."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from januscaler_refunds.policy import (
    KOLKATA,
    BusinessCalendar,
    InfoPause,
    PolicyParameters,
    deadline_status,
    payout_deadline,
    review_deadline,
)

CALENDAR = BusinessCalendar()
PARAMETERS = PolicyParameters()


def due_for(received_at: datetime, *pauses: InfoPause, today: date | None = None,
            calendar: BusinessCalendar = CALENDAR, parameters: PolicyParameters = PARAMETERS) -> date:
    return review_deadline(
        received_at,
        calendar=calendar,
        parameters=parameters,
        today=today or received_at.date() + timedelta(days=30),
        info_pauses=pauses,
    ).due


def kolkata(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KOLKATA)


# June 2026 has no Delhi public holiday before the 26th, so these weeks are plain.
MONDAY = date(2026, 6, 1)


def test_received_on_monday_is_due_the_monday_two_weeks_later() -> None:
    assert due_for(kolkata(MONDAY)) == date(2026, 6, 15)


@pytest.mark.parametrize("received", [date(2026, 6, 5), date(2026, 6, 6), date(2026, 6, 7)],
                         ids=["friday", "saturday", "sunday"])
def test_received_friday_to_sunday_is_due_the_friday_of_the_week_after_next(received: date) -> None:
    assert due_for(kolkata(received)) == date(2026, 6, 19)


def test_the_received_date_is_the_kolkata_date() -> None:
    # Sunday 20:00 UTC is Monday 01:30 in Kolkata: the Monday rule applies.
    received = datetime(2026, 5, 31, 20, 0, tzinfo=UTC)
    assert due_for(received) == date(2026, 6, 15)


def test_republic_day_pushes_the_deadline_out_by_a_day() -> None:
    # A Monday two weeks earlier is due on a Monday; from Monday 2026-01-19 the ten business days
    # span Republic Day (Monday 2026-01-26), so the due date moves from Monday to Tuesday.
    assert due_for(kolkata(date(2026, 1, 5))) == date(2026, 1, 19)
    assert due_for(kolkata(date(2026, 1, 19))) == date(2026, 2, 3)


def test_a_company_holiday_pushes_the_deadline_out_by_a_day() -> None:
    calendar = BusinessCalendar([date(2026, 6, 10)])
    assert due_for(kolkata(MONDAY), calendar=calendar) == date(2026, 6, 16)


def test_the_deadline_is_the_end_of_the_due_day_in_kolkata() -> None:
    deadline = review_deadline(kolkata(MONDAY), calendar=CALENDAR, parameters=PARAMETERS, today=MONDAY)
    assert deadline.due_at == datetime(2026, 6, 15, 23, 59, 59, 999999, tzinfo=KOLKATA)


def test_an_information_request_over_a_weekend_adds_only_the_business_days() -> None:
    # Asked Friday, answered Monday: Saturday and Sunday do not count, Monday does.
    pause = InfoPause(requested_on=date(2026, 6, 5), answered_on=date(2026, 6, 8))
    assert due_for(kolkata(MONDAY), pause) == date(2026, 6, 16)


def test_an_answer_the_same_day_adds_nothing() -> None:
    pause = InfoPause(requested_on=date(2026, 6, 3), answered_on=date(2026, 6, 3))
    assert due_for(kolkata(MONDAY), pause) == date(2026, 6, 15)


def test_an_unanswered_request_pauses_the_clock_up_to_and_including_today() -> None:
    pause = InfoPause(requested_on=date(2026, 6, 3))  # Wednesday
    assert due_for(kolkata(MONDAY), pause, today=date(2026, 6, 5)) == date(2026, 6, 17)
    assert due_for(kolkata(MONDAY), pause, today=date(2026, 6, 3)) == date(2026, 6, 15)


def test_overlapping_information_requests_count_each_day_once() -> None:
    first = InfoPause(requested_on=date(2026, 6, 3), answered_on=date(2026, 6, 5))  # Thu, Fri
    second = InfoPause(requested_on=date(2026, 6, 4), answered_on=date(2026, 6, 8))  # Fri, Mon
    assert due_for(kolkata(MONDAY), first, second) == date(2026, 6, 18)


def test_a_version_that_does_not_pause_the_clock_ignores_information_requests() -> None:
    pause = InfoPause(requested_on=date(2026, 6, 5), answered_on=date(2026, 6, 12))
    parameters = PolicyParameters(pause_review_clock_on_info_request=False)
    assert due_for(kolkata(MONDAY), pause, parameters=parameters) == date(2026, 6, 15)


def test_the_engine_reports_the_paused_review_deadline(run) -> None:
    # Base request: received Thursday 2026-03-05; company holiday 2026-03-13 -> due 2026-03-20.
    assert run().review_due == date(2026, 3, 20)
    paused = run(request__info_pauses=[InfoPause(date(2026, 3, 6), date(2026, 3, 9))])
    assert paused.review_due == date(2026, 3, 23)


def test_payout_is_due_the_tenth_business_day_after_approval() -> None:
    deadline = payout_deadline(date(2026, 6, 5), calendar=CALENDAR, parameters=PARAMETERS)
    assert deadline.due == date(2026, 6, 19)
    assert deadline.due_at == datetime(2026, 6, 19, 23, 59, 59, 999999, tzinfo=KOLKATA)


def test_payout_counts_from_the_kolkata_date_of_an_approval_moment() -> None:
    # Thursday 19:00 UTC is Friday in Kolkata, Friday 19:00 UTC is Saturday: both are due the
    # Friday of the week after next.
    approved = datetime(2026, 6, 4, 19, 0, tzinfo=UTC)  # Friday 00:30 Kolkata
    assert payout_deadline(approved, calendar=CALENDAR, parameters=PARAMETERS).due == date(2026, 6, 19)
    late = datetime(2026, 6, 5, 19, 0, tzinfo=UTC)  # Saturday 00:30 Kolkata
    assert payout_deadline(late, calendar=CALENDAR, parameters=PARAMETERS).due == date(2026, 6, 19)


DUE = date(2026, 6, 19)  # a Friday


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 6, 15), ("ok", 4)),
        (date(2026, 6, 16), ("ok", 3)),
        (date(2026, 6, 17), ("near", 2)),
        (date(2026, 6, 18), ("near", 1)),
        (date(2026, 6, 19), ("near", 0)),
        (date(2026, 6, 20), ("overdue", 0)),
        (date(2026, 6, 22), ("overdue", -1)),
    ],
)
def test_deadline_status_counts_business_days_left(today: date, expected: tuple[str, int]) -> None:
    assert deadline_status(DUE, today, 2, calendar=CALENDAR) == expected


def test_near_threshold_is_a_parameter() -> None:
    assert deadline_status(DUE, date(2026, 6, 16), calendar=CALENDAR, near_threshold=3) == ("near", 3)


def test_a_weekend_before_the_due_monday_does_not_count_as_days_left() -> None:
    assert deadline_status(date(2026, 6, 15), date(2026, 6, 12), calendar=CALENDAR) == ("near", 1)
