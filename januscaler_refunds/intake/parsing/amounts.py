"""Amount extraction: the refund amount and currency a customer names."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_CODES = (
    "USD|EUR|GBP|INR|JPY|CNY|RMB|CAD|AUD|NZD|CHF|SEK|NOK|DKK|PLN|CZK|HUF|BRL|MXN|SGD|HKD|ZAR|AED"
    "|SAR|TRY|KRW|ILS|RON|BGN|IDR|MYR|PHP|THB|VND|UAH|NGN|KES|EGP|PKR|BDT|LKR"
)
_SYMBOLS = {
    "US$": "USD",
    "$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "S$": "SGD",
    "HK$": "HKD",
    "R$": "BRL",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "RS": "INR",
    "RS.": "INR",
    "¥": "JPY",
    "￥": "JPY",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "EURO": "EUR",
    "EUROS": "EUR",
    "DOLLAR": "USD",
    "DOLLARS": "USD",
    "RUPEE": "INR",
    "RUPEES": "INR",
    "RMB": "CNY",
}
_NUMBER = (
    r"(?:\d{1,2}(?:,\d\d)+,\d{3}(?:\.\d{1,2})?"  # Indian grouping: 1,00,000.00
    r"|\d{1,3}(?:[,.\u00a0\u202f']\d{3})+(?:[.,]\d{1,2})?"  # 1,200.50  1.234,56  1'200
    r"|\d+(?:[.,]\d{1,2})?)"  # 49  49.00  12,50
    r"(?![\d.,]\d)"
)
_PREFIX_CURRENCY = (
    r"(?:US\$|CA\$|C\$|AU\$|A\$|NZ\$|S\$|HK\$|R\$|\$|€|£|₹|¥|￥|₩|₽|₺"
    r"|(?<![A-Za-z])(?-i:Rs\.?|RS\.?|" + _CODES + r")(?![A-Za-z]))"
)
_SUFFIX_CURRENCY = (
    r"(?:€|\$|£|₹|¥|₽|₺|(?<![A-Za-z])(?:(?-i:" + _CODES + r")|euros?|dollars?|rupees?)(?![A-Za-z]))"
)
_AMOUNT = re.compile(
    r"(?:(?P<pre>" + _PREFIX_CURRENCY + r")\s?(?P<num1>" + _NUMBER + r"))"
    r"|(?:(?<![\w.,])(?P<num2>" + _NUMBER + r")\s?(?P<post>" + _SUFFIX_CURRENCY + r"))",
    re.IGNORECASE,
)
_REFUND_NEAR = re.compile(
    r"refund|reimburs|money\s+back|return\s+(?:of\s+)?(?:my|the)", re.IGNORECASE
)
_MAX_AMOUNT = Decimal("1000000000")


def _to_decimal(number: str) -> Decimal | None:
    text = number.replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    comma, dot = text.rfind(","), text.rfind(".")
    if comma != -1 and dot != -1:
        decimal_mark = "," if comma > dot else "."
        grouping = "." if decimal_mark == "," else ","
        text = text.replace(grouping, "").replace(decimal_mark, ".")
    elif comma != -1 or dot != -1:
        mark = "," if comma != -1 else "."
        head, _, tail = text.rpartition(mark)
        if text.count(mark) > 1 or (len(tail) == 3 and head not in ("0", "")):
            text = text.replace(mark, "")  # grouping: 4,999  1.234  1,00,000
        else:
            text = head.replace(mark, "") + "." + tail  # decimal: 12,50  49.00
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value >= _MAX_AMOUNT:
        return None
    return value


def extract_requested_amount(text: str) -> tuple[Decimal | None, str | None]:
    """The refund amount and ISO currency a customer asks for, or ``(None, None)``.

    Understands ``refund of $49.00``, ``USD 1,200.50``, ``₹ 4,999``, ``INR 500``, ``€12,50``,
    ``12,50 €``, ``Rs. 1,00,000``. An amount with "refund" (or "reimburse", "money back") shortly
    before it wins; otherwise the amount is used only when the text names exactly one. ``$`` is read as
    USD and ``¥`` as JPY. Always a Decimal, never a float.
    """
    found: list[tuple[int, Decimal, str]] = []
    for match in _AMOUNT.finditer(text):
        number = match.group("num1") or match.group("num2")
        symbol = (match.group("pre") or match.group("post") or "").upper()
        currency = _SYMBOLS.get(symbol, symbol if re.fullmatch(_CODES, symbol) else None)
        value = _to_decimal(number) if number else None
        if value is None or currency is None:
            continue
        if currency == "RMB":
            currency = "CNY"
        found.append((match.start(), value, currency))
    if not found:
        return None, None
    for start, value, currency in found:
        window = text[max(0, start - 60) : start]
        if _REFUND_NEAR.search(window):
            return value, currency
    distinct = {(value, currency) for _, value, currency in found}
    if len(distinct) == 1:
        _, value, currency = found[0]
        return value, currency
    return None, None
