"""Money: Decimal amounts in a currency's minor unit, rounded half-up.

Python's default rounding is half-even (banker's rounding); the policy decisions fix ROUND_HALF_UP,
so 9.225 becomes 9.23, as a customer reading the invoice would expect.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .facts import CurrencyMismatch, normalize_currency

# ISO 4217 currencies whose minor unit is not 2 decimal places. Everything else uses 2.
_MINOR_UNITS: dict[str, int] = {
    # no minor unit in practice
    **dict.fromkeys(
        ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"],
        0,
    ),
    # thousandths
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    # ten-thousandths (units of account)
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def minor_units(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit (JPY 0, KWD 3, USD 2)."""
    return _MINOR_UNITS.get(normalize_currency(currency, "currency"), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half-up to ``currency``'s minor unit: 9.225 USD -> 9.23, 1234.5 JPY -> 1235."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


def zero(currency: str) -> Decimal:
    return quantize(Decimal(0), currency)


def ensure_currency(found: str | None, expected: str, *, what: str) -> None:
    """Refuse an amount whose currency differs from the invoice's (``None`` means "the invoice's")."""
    if found is None:
        return
    found_code = normalize_currency(found, what)
    expected_code = normalize_currency(expected, "invoice currency")
    if found_code != expected_code:
        raise CurrencyMismatch(what=what, found=found_code, expected=expected_code)


def format_amount(amount: Decimal, currency: str) -> str:
    """``"1,234.50 USD"`` — for people; JSON uses the plain decimal string."""
    places = minor_units(currency)
    return f"{quantize(amount, currency):,.{places}f} {currency}"
