"""Availability of a service over a period, from incidents (sections 1 and 4.4).

Only downtime "solely attributable to Januscaler" counts against availability; third-party and
force-majeure downtime is measured separately so the engine can say why it refunds nothing.
Incidents are clipped to the period and overlapping ones are counted once, so two reports of the
same outage do not double the credit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from .calendar import next_midnight, start_of_day
from .facts import Incident, IncidentCause, InvoiceLine

Interval = tuple[datetime, datetime]


def service_period(line: InvoiceLine, invoice_date: date) -> Interval:
    """The moments a plan line pays for: period_start 00:00 to period_end 24:00 Kolkata (dates
    inclusive), or the calendar month of the invoice date when the line names no period."""
    if line.period_start is not None and line.period_end is not None:
        return start_of_day(line.period_start), next_midnight(line.period_end)
    first = invoice_date.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return start_of_day(first), start_of_day(next_month)


def covers_service(line_service: str | None, incident_service: str) -> bool:
    """Does an incident on ``incident_service`` affect a line for ``line_service``?

    A plan line that names no service is taken to cover the whole Service, so every incident counts.
    """
    if line_service is None:
        return True
    return line_service.strip().casefold() == incident_service.strip().casefold()


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals, sorted; touching or overlapping intervals become one."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def downtime(
    incidents: Iterable[Incident],
    *,
    service: str | None,
    period: Interval,
    causes: Iterable[IncidentCause],
    now: datetime,
) -> timedelta:
    """Total downtime in ``period`` from incidents of the given causes, overlaps counted once.

    An incident with no end is still going on and counts up to ``now``.
    """
    wanted = set(causes)
    period_start, period_end = period
    clipped: list[Interval] = []
    for incident in incidents:
        if incident.cause not in wanted or not covers_service(service, incident.service):
            continue
        end = incident.end if incident.end is not None else now
        start, end = max(incident.start, period_start), min(end, period_end)
        if start < end:
            clipped.append((start, end))
    return sum((end - start for start, end in merge(clipped)), timedelta(0))


def availability_percent(
    incidents: Iterable[Incident], *, service: str | None, period: Interval, now: datetime
) -> Decimal:
    """Percent of ``period`` the service was up, counting Januscaler-caused downtime only.

    Computed exactly in microseconds, so a table edge such as 99.0% is hit exactly, not missed by a
    float rounding error.
    """
    total = _microseconds(period[1] - period[0])
    if total <= 0:
        return Decimal(100)
    down = _microseconds(
        downtime(incidents, service=service, period=period, causes=("januscaler",), now=now)
    )
    return Decimal(total - down) * 100 / Decimal(total)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
