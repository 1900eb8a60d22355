"""How money and time read to people: one helper for pages, emails, exports and evidence packs.

Amounts carry their currency's minor units (JPY 0, INR/USD/EUR 2) and thousands grouping
("1,234.50 INR", "12,000 JPY"); machine formats (CSV amount columns, JSON) keep plain decimal
strings and do not come here. Date-times are shown in the company's zone (Asia/Kolkata) in one
24-hour format; the zone is named once per page (``ZONE_NOTE``), not after every time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from januscaler_refunds.policy.money import format_amount, minor_units, quantize

MISSING = "—"
DATE_FORMAT = "%-d %b %Y"  # 7 May 2026
DATETIME_FORMAT = "%-d %b %Y, %H:%M"  # 7 May 2026, 19:31
ZONE_NOTE = "Times are Asia/Kolkata (IST)."


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(amount: Any, currency: str | None = None) -> str:
    """``"1,234.50 USD"``; without a currency the number only, 2 places; "—" when unknown."""
    value = _decimal(amount)
    if value is None:
        return MISSING
    if not currency:
        return f"{value:,.2f}"
    return format_amount(value, currency)


def number(amount: Any, currency: str) -> str:
    """The amount grouped and rounded to ``currency``'s minor units, without the code."""
    value = _decimal(amount)
    if value is None:
        return MISSING
    places = minor_units(currency)
    return f"{quantize(value, currency):,.{places}f}"


def plain(amount: Any, currency: str) -> str:
    """For machine files (CSV): no grouping, the currency's minor units ("1234.50", "1235")."""
    value = _decimal(amount)
    return "" if value is None else str(quantize(value, currency))


def request_link(pk: int | None, reference: str) -> str:
    """A request's reference as a link to its review page (every list shows it this way)."""
    from django.urls import reverse
    from django.utils.html import format_html

    if pk is None:
        return MISSING
    return format_html(
        '<a class="jc-ref" href="{}">{}</a>', reverse("admin:refunds_refundrequest_change", args=[pk]), reference
    )


def when(value: dt.datetime | dt.date | None) -> str:
    """A date-time in company time, "7 May 2026, 19:31"; a plain date as "7 May 2026"."""
    if value is None:
        return MISSING
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime(DATETIME_FORMAT)
    return value.strftime(DATE_FORMAT)


def day(value: dt.datetime | dt.date | None) -> str:
    """Only the company-time date, "7 May 2026"."""
    if value is None:
        return MISSING
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime(DATE_FORMAT)
