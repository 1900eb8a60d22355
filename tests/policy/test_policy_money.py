"""Money: Decimal in the currency's minor unit, rounded half-up; currencies never mixed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from januscaler_refunds.policy import (
    CurrencyMismatch,
    InvoiceLine,
    PolicyInputError,
    format_amount,
    minor_units,
    quantize,
)


@pytest.mark.parametrize(
    ("currency", "places"),
    [("USD", 2), ("INR", 2), ("JPY", 0), ("KRW", 0), ("VND", 0), ("KWD", 3), ("BHD", 3),
     ("OMR", 3), ("JOD", 3), ("TND", 3), ("IQD", 3), ("LYD", 3), ("XYZ", 2), ("usd", 2)],
)
def test_minor_units_follow_iso_4217(currency: str, places: int) -> None:
    assert minor_units(currency) == places


def test_rounding_is_half_up_not_half_even() -> None:
    assert quantize(Decimal("9.225"), "USD") == Decimal("9.23")
    assert quantize(Decimal("9.235"), "USD") == Decimal("9.24")
    assert quantize(Decimal("9.2249"), "USD") == Decimal("9.22")


def test_yen_has_no_decimals() -> None:
    assert str(quantize(Decimal("1234.5"), "JPY")) == "1235"
    assert str(quantize(Decimal("100"), "JPY")) == "100"


def test_dinar_has_three_decimals() -> None:
    assert str(quantize(Decimal("1.0005"), "KWD")) == "1.001"


def test_amounts_for_people_carry_grouping_and_the_currency() -> None:
    assert format_amount(Decimal("1234.5"), "USD") == "1,234.50 USD"
    assert format_amount(Decimal("1234.5"), "JPY") == "1,235 JPY"


def test_a_float_amount_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="Decimal"):
        InvoiceLine(line_no=1, category="plan", description="Plan", amount=100.0)  # type: ignore[arg-type]


def test_a_malformed_currency_is_refused() -> None:
    with pytest.raises(PolicyInputError, match="ISO 4217"):
        quantize(Decimal(1), "dollars")


def test_a_requested_amount_in_another_currency_is_refused(run) -> None:
    with pytest.raises(CurrencyMismatch) as error:
        run(request__currency="EUR")
    assert "EUR" in str(error.value) and "USD" in str(error.value)
    assert isinstance(error.value, PolicyInputError)


def test_an_invoice_line_in_another_currency_is_refused(run, plan) -> None:
    with pytest.raises(CurrencyMismatch, match="line 1 is in INR but the invoice is in USD"):
        run(invoice__lines=[plan(currency="INR")])


def test_the_same_currency_written_in_lower_case_is_not_a_mismatch(run) -> None:
    assert run(request__currency="usd").currency == "USD"
