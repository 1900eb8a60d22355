"""Money and time for people, and a human label beside every stored value the console shows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

from django.template import Context, Template

from januscaler_refunds import formatting
from januscaler_refunds.billing.models import InvoiceLine
from januscaler_refunds.policy import clauses
from januscaler_refunds.policy.codes import CLAUSE_LABELS, LABELS, REASON_CODES, Code, label_of
from januscaler_refunds.refunds.forms import denial_message, reason_code_choices
from januscaler_refunds.refunds.models import MessageKind


def test_amounts_use_the_currencys_minor_units_and_grouping() -> None:
    assert formatting.money(Decimal("12000"), "JPY") == "12,000 JPY"
    assert formatting.money(Decimal("7948.405"), "INR") == "7,948.41 INR"
    assert formatting.money(Decimal("250000"), "USD") == "250,000.00 USD"
    assert formatting.number(Decimal("1234.5"), "EUR") == "1,234.50"
    assert formatting.plain(Decimal("1234.5"), "JPY") == "1235"
    assert formatting.money(None, "INR") == "—"


def test_company_time_in_one_24_hour_format() -> None:
    at = dt.datetime(2026, 5, 7, 14, 1, tzinfo=dt.UTC)
    assert formatting.when(at) == "7 May 2026, 19:31"
    assert formatting.day(at) == "7 May 2026"


def test_template_filters_render_labels_with_the_code_aside() -> None:
    html = Template('{% load console %}{{ a|money:"JPY" }} {{ c|coded }} {{ k|choice_label:"category" }}').render(
        Context({"a": Decimal("5000"), "c": "window_expired", "k": "prepaid_api_credit"})
    )
    assert "5,000 JPY" in html and "Filed after the deadline" in html and "Prepaid API credit" in html
    assert '<code class="code-detail">window_expired</code>' in html


def test_every_reason_code_and_clause_has_a_label() -> None:
    assert set(LABELS) == set(Code)
    assert all(label_of(code) != code for code in Code)
    # The checklist's clause names, as policy.clauses writes them: _Finding("3", "filing_window").
    names = set(re.findall(r'_Finding\("[^"]+", "([a-z_0-9]+)"\)', Path(clauses.__file__).read_text()))
    assert names and names <= set(CLAUSE_LABELS), names - set(CLAUSE_LABELS)


def test_message_kinds_and_categories_have_labels() -> None:
    assert {"acknowledgement", "information_request", "decision", "payout_confirmation",
            "credit_confirmation"} <= set(MessageKind.values)
    assert all(label != value for value, label in InvoiceLine.Category.choices)


def test_deny_codes_are_grouped_by_section_and_the_message_uses_customer_wording() -> None:
    groups = dict(reason_code_choices())
    assert ("window_expired", "Filed after the deadline") in groups["Section 3"]
    assert sum(len(options) for options in groups.values()) == len(REASON_CODES)
    message = denial_message(["window_expired"])
    assert REASON_CODES[Code.WINDOW_EXPIRED].description in message and "section 3" in message
