"""Builders of policy facts, and a Django-free test environment for the policy package.

The base scenario is a clean money-back-guarantee request that the engine approves in full:
invoice INV-1 issued Monday 2026-03-02 (initial, card, 130.00 USD paid) with a 100.00 plan line and
a 30.00 prepaid line of 10,000 API units; request R-1 received Thursday 2026-03-05 10:00 Kolkata,
asking for 130.00. Tests change one thing at a time with ``facts(request__reason=...)``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

# Under "-p no:django" nothing puts the project root on sys.path (pytest-django's project finder
# normally does, and --import-mode=importlib does not), yet the policy tests must run without Django.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from januscaler_refunds.policy import (  # noqa: E402 - needs the path above
    DEFAULT_POLICY_VERSION,
    KOLKATA,
    BusinessCalendar,
    CustomerFacts,
    Evaluation,
    InvoiceFacts,
    InvoiceLine,
    RefundFacts,
    RequestFacts,
    evaluate,
)

ISSUED = date(2026, 3, 2)
RECEIVED = datetime(2026, 3, 5, 10, 0, tzinfo=KOLKATA)

# One calendar for the whole run: public holidays load once per year, not once per test.
CALENDAR = BusinessCalendar([date(2026, 3, 13)])

FactsBuilder = Callable[..., RefundFacts]
Runner = Callable[..., Evaluation]


# The suite-wide conftest configures Django and Celery for every test. The policy is pure Python, so
# these same-named fixtures replace them here and the policy tests run with or without Django.
@pytest.fixture(autouse=True)
def _media_root() -> Iterator[None]:
    yield


@pytest.fixture(autouse=True, scope="session")
def _celery_eager() -> Iterator[None]:
    yield


def plan_line(**changes: Any) -> InvoiceLine:
    base = InvoiceLine(
        line_no=1,
        category="plan",
        description="Pro plan, March 2026",
        amount=Decimal("100.00"),
        service="video",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
    )
    return replace(base, **changes)


def prepaid_line(**changes: Any) -> InvoiceLine:
    base = InvoiceLine(
        line_no=2,
        category="prepaid_api_credit",
        description="10,000 API units",
        amount=Decimal("30.00"),
        units=10_000,
    )
    return replace(base, **changes)


def base_facts() -> RefundFacts:
    return RefundFacts(
        request=RequestFacts(
            reference="R-1",
            reason="money_back_guarantee",
            received_at=RECEIVED,
            requester_email="alice@example.com",
            requested_amount=Decimal("130.00"),
            currency="USD",
        ),
        invoice=InvoiceFacts(
            number="INV-1",
            customer_id="C-1",
            customer_email="alice@example.com",
            issued_on=ISSUED,
            kind="initial",
            payment_method="card",
            currency="USD",
            amount_paid=Decimal("130.00"),
            lines=(plan_line(), prepaid_line()),
        ),
        customer=CustomerFacts(emails=("alice@example.com",)),
        policy=DEFAULT_POLICY_VERSION,
        calendar=CALENDAR,
    )


def build_facts(**changes: Any) -> RefundFacts:
    """``build_facts(request__reason="other", usage=[...])``: ``part__field`` changes a field of
    the request, invoice or customer; a plain name changes a field of the facts themselves."""
    facts = base_facts()
    nested: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key, value in changes.items():
        part, sep, name = key.partition("__")
        if sep:
            nested.setdefault(part, {})[name] = value
        else:
            top[key] = value
    for part, fields in nested.items():
        top[part] = replace(getattr(facts, part), **fields)
    return replace(facts, **top)


@pytest.fixture
def facts() -> FactsBuilder:
    return build_facts


@pytest.fixture
def run() -> Runner:
    """Build facts and evaluate them an hour after the request arrived (or at ``now=``)."""

    def _run(now: datetime | None = None, **changes: Any) -> Evaluation:
        built = build_facts(**changes)
        return evaluate(built, now=now or built.request.received_at + timedelta(hours=1))

    return _run


@pytest.fixture
def plan() -> Callable[..., InvoiceLine]:
    """The base plan line (line 1, 100.00, service "video", March 2026), with changes."""
    return plan_line


@pytest.fixture
def prepaid() -> Callable[..., InvoiceLine]:
    """The base prepaid line (line 2, 30.00 for 10,000 units), with changes."""
    return prepaid_line
