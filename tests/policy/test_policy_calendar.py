"""Business days: Monday to Friday minus Delhi public holidays minus company holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from januscaler_refunds.policy import (
    KOLKATA,
    BusinessCalendar,
    PolicyInputError,
    end_of_day,
    local_date,
    start_of_day,
)

COMPANY = [date(2026, 3, 13), date(2027, 12, 31), date(2025, 8, 18)]
CALENDAR = BusinessCalendar(COMPANY)
YEARS = range(2024, 2029)


def _numpy_holidays() -> list[str]:
    # Built independently of BusinessCalendar, from the holidays package directly.
    public = holidays.country_holidays("IN", subdiv="DL", years=list(YEARS))
    return sorted({d.isoformat() for d in [*public.keys(), *COMPANY]})


HOLIDAYS = _numpy_holidays()
dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


def test_republic_day_2026_is_a_delhi_public_holiday() -> None:
    assert date(2026, 1, 26).weekday() == 0
    assert not CALENDAR.is_business_day(date(2026, 1, 26))
    assert CALENDAR.is_business_day(date(2026, 1, 27))


def test_weekends_are_not_business_days() -> None:
    assert not CALENDAR.is_business_day(date(2026, 3, 7))  # Saturday
    assert not CALENDAR.is_business_day(date(2026, 3, 8))  # Sunday
    assert CALENDAR.is_business_day(date(2026, 3, 9))


def test_a_company_holiday_is_not_a_business_day() -> None:
    assert not CALENDAR.is_business_day(date(2026, 3, 13))
    assert BusinessCalendar().is_business_day(date(2026, 3, 13))


def test_a_company_holiday_given_as_a_datetime_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="must be a date"):
        BusinessCalendar([datetime(2026, 3, 13, tzinfo=KOLKATA)])


def test_public_holidays_load_lazily_one_year_at_a_time() -> None:
    calendar = BusinessCalendar()
    assert calendar._public == {}
    calendar.is_business_day(date(2031, 1, 27))
    assert set(calendar._public) == {2031}


def test_adding_days_counts_only_days_strictly_after_the_start() -> None:
    friday = date(2026, 3, 6)
    assert CALENDAR.add_business_days(friday, 1) == date(2026, 3, 9)
    assert CALENDAR.add_business_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # from Saturday
    assert CALENDAR.add_business_days(friday, 0) == friday
    assert CALENDAR.add_business_days(date(2026, 3, 9), -1) == friday


def test_days_between_excludes_the_start_and_includes_the_end() -> None:
    assert CALENDAR.business_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1
    assert CALENDAR.business_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert CALENDAR.business_days_between(date(2026, 3, 9), date(2026, 3, 6)) == -1


def test_a_date_means_the_kolkata_calendar_date() -> None:
    # 20:00 UTC on the 5th is already 01:30 on the 6th in Kolkata.
    assert local_date(datetime(2026, 3, 5, 20, 0, tzinfo=UTC)) == date(2026, 3, 6)
    assert start_of_day(date(2026, 3, 6)) == datetime(2026, 3, 5, 18, 30, tzinfo=UTC)
    assert end_of_day(date(2026, 3, 6)) + timedelta(microseconds=1) == start_of_day(date(2026, 3, 7))


def test_a_naive_datetime_has_no_kolkata_date() -> None:
    with pytest.raises(PolicyInputError, match="time-zone-aware"):
        local_date(datetime(2026, 3, 5, 10, 0))


@settings(max_examples=300, deadline=None)
@given(start=dates, n=st.integers(min_value=1, max_value=60))
def test_adding_days_matches_numpy_busday_offset(start: date, n: int) -> None:
    # roll="backward" makes numpy count strictly after a non-business start, as the policy does.
    expected = np.busday_offset(start, n, roll="backward", holidays=HOLIDAYS)
    assert CALENDAR.add_business_days(start, n) == expected.astype(date)


@settings(max_examples=300, deadline=None)
@given(start=dates, n=st.integers(min_value=1, max_value=60))
def test_subtracting_days_matches_numpy_busday_offset(start: date, n: int) -> None:
    expected = np.busday_offset(start, -n, roll="forward", holidays=HOLIDAYS)
    assert CALENDAR.add_business_days(start, -n) == expected.astype(date)


@settings(max_examples=300, deadline=None)
@given(start=dates, end=dates)
def test_days_between_matches_numpy_busday_count(start: date, end: date) -> None:
    # numpy counts [begin, end); the policy counts (start, end], i.e. numpy on the next days.
    # Backwards the policy is antisymmetric, so compare with minus the forward count (numpy's own
    # reversed count is shifted by a day).
    one = timedelta(days=1)
    low, high = sorted((start, end))
    forward = int(np.busday_count(low + one, high + one, holidays=HOLIDAYS))
    assert CALENDAR.business_days_between(start, end) == (forward if start <= end else -forward)


@settings(max_examples=200, deadline=None)
@given(start=dates, n=st.integers(min_value=0, max_value=60))
def test_days_between_undoes_adding_days(start: date, n: int) -> None:
    assert CALENDAR.business_days_between(start, CALENDAR.add_business_days(start, n)) == n
