"""Facts refuse bad input on construction, naming the fact, instead of skewing an evaluation."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from januscaler_refunds.policy import (
    KOLKATA,
    Incident,
    InfoPause,
    InvoiceLine,
    PolicyInputError,
    RequestFacts,
)


def test_a_naive_received_at_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="R-1 received_at must be a time-zone-aware"):
        RequestFacts(reference="R-1", reason="billing_error", received_at=datetime(2026, 3, 5, 10, 0),
                     requester_email="a@example.com")


def test_an_unknown_reason_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="'refund_please' is not one of"):
        RequestFacts(reference="R-1", reason="refund_please",  # type: ignore[arg-type]
                     received_at=datetime(2026, 3, 5, tzinfo=KOLKATA), requester_email="a@example.com")


def test_prepaid_credit_must_state_the_units_bought() -> None:
    with pytest.raises(PolicyInputError, match="units bought"):
        InvoiceLine(line_no=2, category="prepaid_api_credit", description="credit", amount=Decimal("30"))


def test_a_half_given_service_period_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="both period_start and period_end"):
        InvoiceLine(line_no=1, category="plan", description="plan", amount=Decimal("1"),
                    period_start=date(2026, 3, 1))


def test_an_answer_before_the_question_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="answered on 2026-03-04 before"):
        InfoPause(requested_on=date(2026, 3, 5), answered_on=date(2026, 3, 4))


def test_an_incident_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="ends before it starts"):
        Incident(service="video", start=datetime(2026, 3, 5, tzinfo=KOLKATA),
                 end=datetime(2026, 3, 4, tzinfo=KOLKATA), cause="januscaler")


def test_lists_are_stored_as_tuples_so_facts_stay_immutable() -> None:
    request = RequestFacts(reference="R-1", reason="billing_error",
                           received_at=datetime(2026, 3, 5, tzinfo=KOLKATA), requester_email="a@example.com",
                           info_pauses=[InfoPause(date(2026, 3, 6))])
    assert isinstance(request.info_pauses, tuple)
