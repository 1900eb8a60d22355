"""Amount extraction: the refund amount and currency a customer names in their own words.

Every amount written with a currency (``$49.00``, ``49,00 €``, ``EUR 310,50``, ``₹1,23,456.78``,
``Rs. 2,500``, ``3,000円``) is a candidate with its position and the words around it. A bare number is
never one, so counts ("charged 2x", "2 baar"), days ("7日", "7 Tagen") and dates (``03.03.2025``) cannot
become the amount. The candidate next to a refund word in any of the customer languages (refund,
Erstattung, remboursement, reembolso, rimborso, terugbetaling, 返金, रिफंड, "refund karo") wins. When
the text holds several different amounts and not exactly one of them stands next to a refund word,
there is no amount and a note tells the agent why: a missing amount costs the agent one look, a wrong
one costs the customer money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    "円": "JPY",
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
    r"(?:€|\$|£|₹|¥|円|₽|₺"
    r"|(?<![A-Za-z])(?:(?-i:" + _CODES + r")|euros?|dollars?|rupees?)(?![A-Za-z]))"
)
_AMOUNT = re.compile(
    r"(?:(?P<pre>" + _PREFIX_CURRENCY + r")[ \u00a0]?(?P<num1>" + _NUMBER + r"))"
    r"|(?:(?<![\w.,])(?P<num2>" + _NUMBER + r")[ \u00a0]?(?P<post>" + _SUFFIX_CURRENCY + r"))",
    re.IGNORECASE,
)
# Words that say "give the money back", per customer language. Stems, so inflections match
# (erstatten/Erstattung, rembourser/remboursement, reembolsar/reembolso, rimborsare/rimborso).
_REFUND_WORDS = re.compile(
    r"refund|reimburs|money\s+back|return\s+(?:of\s+)?(?:my|the)"
    r"|erstatt|gutschrift|geld\s+zur[üu]ck"
    r"|rembours"
    r"|reembols|devoluci[óo]n|devolu[çc][ãa]o|ressarc"
    r"|rimbors"
    r"|terugbetal|terugstort|geld\s+terug"
    r"|返金|払い戻|払戻"
    r"|रिफंड|रिफ़ंड|वापसी",
    re.IGNORECASE,
)
# How far a refund word may stand from its amount: the amount after it ("refund of $49"), or before
# it for the languages that put the amount first ("¥5,000の返金", "₹4,999 ka refund karo").
_AFTER_WORD_CHARS = 60
_BEFORE_WORD_CHARS = 25
_BEFORE_WEIGHT = 1.5  # "refund me $49.50" beats "$99 but refund": English puts the amount after
_CONTEXT_CHARS = 80
# A sentence ends at . ! ? followed by a space and a non-digit ("Rs. 2,500" is not an end), at the
# CJK full stops, and at a line break.
_SENTENCE_END = re.compile(r"[.!?](?=\s+\D)|[。！？]|\n")
_MAX_AMOUNT = Decimal("1000000000")


@dataclass(frozen=True)
class AmountCandidate:
    """An amount with a currency seen in the customer's text, where, and with what around it."""

    value: Decimal
    currency: str
    start: int
    end: int
    context: str
    near_refund_word: bool


@dataclass(frozen=True)
class AmountReading:
    """What the customer asks for: amount and currency, or None with a ``note`` saying why not."""

    amount: Decimal | None = None
    currency: str | None = None
    position: int | None = None
    context: str = ""
    note: str = ""
    candidates: tuple[AmountCandidate, ...] = ()


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


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence holding ``text[start:end]``, at most ``_CONTEXT_CHARS`` either side."""
    left = max(0, start - _CONTEXT_CHARS)
    for match in _SENTENCE_END.finditer(text, left, start):
        left = match.end()
    right = min(len(text), end + _CONTEXT_CHARS)
    stop = _SENTENCE_END.search(text, end, right)
    return left, stop.start() if stop else right


def _claimed(text: str, spans: list[tuple[int, int]]) -> set[int]:
    """Indexes of the amounts a refund word points at: each refund word claims the nearest amount in
    its sentence, so a refund word in the previous sentence or next to another amount claims nothing."""
    claimed: set[int] = set()
    for word in _REFUND_WORDS.finditer(text):
        left, right = _sentence(text, word.start(), word.end())
        best: tuple[float, int] | None = None
        for index, (start, end) in enumerate(spans):
            if start < left or end > right:
                continue
            if start >= word.end() and start - word.end() <= _AFTER_WORD_CHARS:
                distance = float(start - word.end())
            elif end <= word.start() and word.start() - end <= _BEFORE_WORD_CHARS:
                distance = (word.start() - end) * _BEFORE_WEIGHT
            else:
                continue
            if best is None or distance < best[0]:
                best = (distance, index)
        if best is not None:
            claimed.add(best[1])
    return claimed


def amount_candidates(text: str) -> list[AmountCandidate]:
    """Every amount with a currency in ``text``, in order of appearance."""
    matches: list[tuple[re.Match[str], Decimal, str]] = []
    for match in _AMOUNT.finditer(text):
        number = match.group("num1") or match.group("num2")
        symbol = (match.group("pre") or match.group("post") or "").upper()
        currency = _SYMBOLS.get(symbol, symbol if re.fullmatch(_CODES, symbol) else None)
        value = _to_decimal(number) if number else None
        if value is None or currency is None:
            continue
        matches.append((match, value, "CNY" if currency == "RMB" else currency))
    claimed = _claimed(text, [(match.start(), match.end()) for match, _, _ in matches])
    found: list[AmountCandidate] = []
    for index, (match, value, currency) in enumerate(matches):
        left, right = _sentence(text, match.start(), match.end())
        found.append(
            AmountCandidate(
                value=value,
                currency=currency,
                start=match.start(),
                end=match.end(),
                context=" ".join(text[left:right].split())[:160],
                near_refund_word=index in claimed,
            )
        )
    return found


def read_requested_amount(text: str) -> AmountReading:
    """The refund amount a customer asks for, with its position and context, or a note why none.

    Rules, in order: no amount with a currency -> none (no note: nothing to look at). Exactly one
    distinct amount next to a refund word -> that one. Several different ones next to refund words
    -> none, with a note. None next to a refund word: the amount when the text names exactly one
    (``I paid $49, please sort it out``), else none with a note.
    """
    candidates = amount_candidates(text)
    if not candidates:
        return AmountReading()
    near = [c for c in candidates if c.near_refund_word]
    pool = near or candidates
    distinct = sorted({(c.value, c.currency) for c in pool})
    if len(distinct) == 1:
        chosen = pool[0]
        return AmountReading(
            amount=chosen.value,
            currency=chosen.currency,
            position=chosen.start,
            context=chosen.context,
            candidates=tuple(candidates),
        )
    listed = ", ".join(f"{value} {currency}" for value, currency in distinct[:6])
    where = "next to a refund word" if near else "and none of them next to a refund word"
    return AmountReading(
        note=(
            f"Requested amount not set: the customer's message names {len(distinct)} different "
            f"amounts ({listed}) {where}. Read the message and set the amount."
        ),
        candidates=tuple(candidates),
    )


def extract_requested_amount(text: str) -> tuple[Decimal | None, str | None]:
    """The refund amount and ISO currency a customer asks for, or ``(None, None)``.

    Understands ``refund of $49.00``, ``USD 1,200.50``, ``₹ 4,999``, ``INR 500``, ``€12,50``,
    ``12,50 €``, ``1.234,56 €``, ``₹1,23,456.78``, ``Rs. 1,00,000``, ``3,000円``. ``$`` is read as USD
    and ``¥`` as JPY. Always a Decimal, never a float. See :func:`read_requested_amount` for the rules
    and for the note given when the text is ambiguous.
    """
    reading = read_requested_amount(text)
    return reading.amount, reading.currency
