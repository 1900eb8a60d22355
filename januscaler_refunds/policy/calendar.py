"""Company time and the business-day calendar.

The company works in Asia/Kolkata: "a date" always means the calendar date there, whatever zone a
timestamp arrived in. Business days are Monday to Friday, minus the public holidays of Delhi (the
``holidays`` package, country IN, subdivision DL; national holidays if a package version lacks DL)
and minus the company holidays managers keep in the admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import holidays

from .facts import PolicyInputError

KOLKATA = ZoneInfo("Asia/Kolkata")
END_OF_DAY = time(23, 59, 59, 999999)


def local_date(moment: datetime) -> date:
    """The Kolkata calendar date of an aware moment."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise PolicyInputError(f"expected a time-zone-aware datetime, got {moment!r}")
    return moment.astimezone(KOLKATA).date()


def start_of_day(day: date) -> datetime:
    """00:00 of ``day`` in Kolkata."""
    return datetime.combine(day, time.min, tzinfo=KOLKATA)


def end_of_day(day: date) -> datetime:
    """23:59:59.999999 of ``day`` in Kolkata: the moment a deadline "by the end of" the day expires."""
    return datetime.combine(day, END_OF_DAY, tzinfo=KOLKATA)


def next_midnight(day: date) -> datetime:
    """00:00 of the day after ``day``: the exclusive end of "the whole of ``day``"."""
    return start_of_day(day + timedelta(days=1))


class BusinessCalendar:
    """Business days for Januscaler.

    Build it with the company holidays (dates) from the admin::

        calendar = BusinessCalendar([date(2026, 3, 13)])

    Public holidays are loaded lazily, one year at a time, the first time a date in that year is
    asked about, so a long-lived calendar never needs to know its range up front.
    """

    def __init__(
        self,
        company_holidays: Iterable[date] = (),
        *,
        country: str = "IN",
        subdivision: str | None = "DL",
    ) -> None:
        days = tuple(company_holidays)
        for day in days:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise PolicyInputError(f"company holiday {day!r} must be a date")
        self.company_holidays: frozenset[date] = frozenset(days)
        self.country = country
        # Fall back to national holidays rather than failing if the package lacks the subdivision.
        self.subdivision = subdivision if subdivision in _subdivisions(country) else None
        self._public: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        where = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
        return f"BusinessCalendar({where}, {len(self.company_holidays)} company holidays)"

    def public_holidays(self, year: int) -> frozenset[date]:
        """The public holidays of ``year`` (cached per year)."""
        cached = self._public.get(year)
        if cached is None:
            cached = _public_holidays(self.country, self.subdivision, year)
            self._public[year] = cached
        return cached

    def is_holiday(self, day: date) -> bool:
        return day in self.company_holidays or day in self.public_holidays(day.year)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_business_days(self, day: date, n: int) -> date:
        """The ``n``-th business day strictly after ``day`` (``day`` itself never counts).

        ``n < 0`` walks backwards: the ``|n|``-th business day strictly before ``day``.
        ``n == 0`` returns ``day`` unchanged, business day or not.
        """
        step = 1 if n > 0 else -1
        remaining = abs(n)
        current = day
        while remaining:
            current += timedelta(days=step)
            if self.is_business_day(current):
                remaining -= 1
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Business days strictly after ``start`` up to and including ``end``.

        Antisymmetric: when ``end`` is before ``start`` the result is minus the business days
        strictly after ``end`` up to and including ``start`` (so "days left" before a deadline turns
        into minus "days overdue"); equal dates give 0.
        """
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_business_day(current):
                count += 1
        return count


# --- per-process caches ------------------------------------------------------------------------
# What the ``holidays`` package says depends only on its arguments and the installed package, so
# it is computed once per process, not once per calendar: looking up the country's subdivisions
# cost ~6.5 ms of CPU on the bench machine and each year's public holidays ~0.6 ms, paid again by
# every page, scan and approval that built its own calendar (issue 14). A calendar now costs ~40 µs.


@cache
def _subdivisions(country: str) -> frozenset[str]:
    return frozenset(holidays.country_holidays(country).subdivisions)


@lru_cache(maxsize=1024)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def calendar_with(company_holidays: Iterable[date]) -> BusinessCalendar:
    """The calendar for exactly these company holidays, shared within the process.

    The set of holidays is the cache key, so a holiday added, moved or removed in the admin gives a
    new calendar the next time the caller reads the set (``refunds.services`` reads it with the row
    lock, in the same query); a calendar is never reused for a set it was not built from.
    """
    return _calendar_for(frozenset(company_holidays))


@lru_cache(maxsize=16)
def _calendar_for(company_holidays: frozenset[date]) -> BusinessCalendar:
    return BusinessCalendar(sorted(company_holidays))
