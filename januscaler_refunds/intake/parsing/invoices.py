"""Invoice numbers: from the subject (section 4.1) and, as candidates only, from the body."""

from __future__ import annotations

import re
import unicodedata

from .charsets import _WHITESPACE, decode_header_text
from .results import _CLASSIFY_CHARS, MAX_INVOICE_CANDIDATES, InvoiceCandidate, _Draft

_DASHES = dict.fromkeys(
    map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"
)
_TOKEN = r"[A-Za-z0-9](?:[A-Za-z0-9_/\-]{0,62}[A-Za-z0-9])?"
_PRODUCT_SHAPE = re.compile(r"^INV[-_/ ]?((?:19|20)\d\d)[-_/ ]?(\d{1,12})$")
_PRODUCT_COMPACT = re.compile(r"^INV((?:19|20)\d\d)(\d{6})$")
_STRONG_INVOICE = re.compile(
    r"(?<![A-Za-z0-9])(INV[ _/\-]?(?:19|20)\d\d[ _/\-]?\d{1,12}|INV[\-_/#]?\d"
    + r"[A-Za-z0-9_/\-]{0,60})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LABELLED_INVOICE = re.compile(
    r"(?<![A-Za-z])(?:invoice|inv|rechnung|factura|facture|fattura|fatura|faktura)\.?\s*"
    r"(?:no\.?|nr\.?|number|num\.?|n[°º]\.?|#)?\s*[:#]?\s*(" + _TOKEN + ")",
    re.IGNORECASE,
)
_REFUND_REQUEST = re.compile(
    r"refund\s*request\s*(?:for\s+)?[:\-#]*\s*#?\s*(" + _TOKEN + ")", re.IGNORECASE
)
_REFUND_WORD = re.compile(
    r"refund|r[üu]ckerstattung|reembolso|remboursement|rimborso", re.IGNORECASE
)
_HASH_TOKEN = re.compile(r"#\s?(" + _TOKEN + ")")
_TRAILING_PUNCTUATION = ".,;:!?)]}>\"'`-/_"


def normalize_invoice_number(value: str) -> str:
    """Canonical form for comparing invoice numbers: ``" #inv-2025-000123. "`` -> ``"INV-2025-000123"``.

    Upper-cases, maps full-width characters and dash look-alikes to ASCII, removes ``#`` and spaces,
    strips trailing punctuation, and writes the product's own shape with dashes
    (``INV 2025 000123``, ``inv_2025_000123``, ``INV2025000123`` -> ``INV-2025-000123``).
    """
    text = unicodedata.normalize("NFKC", value or "").translate(_DASHES)
    text = _WHITESPACE.sub("", text).replace("#", "")
    text = text.strip(_TRAILING_PUNCTUATION + "(<[{").upper()
    shaped = _PRODUCT_SHAPE.match(text) or _PRODUCT_COMPACT.match(text)
    if shaped:
        return f"INV-{shaped.group(1)}-{shaped.group(2)}"
    return text


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


def _looks_like_amount(text: str, end: int) -> bool:
    return bool(re.match(r"[.,]\d", text[end : end + 2]))


def _invoice_tokens(text: str, *, strong_only: bool) -> list[str]:
    """Invoice-like tokens in ``text``, strongest evidence first, normalised and de-duplicated."""
    found: list[str] = []

    def add(token: str) -> None:
        number = normalize_invoice_number(token)
        if number and _has_digit(number) and number not in found:
            found.append(number)

    for match in _STRONG_INVOICE.finditer(text):
        add(match.group(1))
    for match in _LABELLED_INVOICE.finditer(text):
        if _has_digit(match.group(1)) and not _looks_like_amount(text, match.end(1)):
            add(match.group(1))
    if strong_only:
        return found
    for match in _REFUND_REQUEST.finditer(text):
        if _has_digit(match.group(1)) and not _looks_like_amount(text, match.end(1)):
            add(match.group(1))
    if _REFUND_WORD.search(text):
        for match in _HASH_TOKEN.finditer(text):
            if _has_digit(match.group(1)) and not _looks_like_amount(text, match.end(1)):
                add(match.group(1))
    return found


def match_subject(subject: str | None) -> str | None:
    """The invoice number a subject names, normalised, or None.

    Tolerates any chain of ``Re:``/``RE :``/``AW:``/``SV:``/``Fwd:``/``FW:``/``WG:`` prefixes and
    ``[External]`` tags, any case and spacing, ``#`` before the number and ``:``, ``-`` or ``–`` as
    separators. In order of preference it returns: a token in the product's shape (``INV-2025-000123``)
    anywhere; a token after the word "invoice" (or Rechnung, factura, ...); the token right after
    "Refund Request"; with refund wording present, a ``#token``. A token is letters and digits with
    ``-``/``/``/``_`` inside and must contain a digit; amounts (``49.00``) are not tokens. A subject
    with neither refund wording nor an invoice-like token gives None. Encoded words (``=?utf-8?...``)
    are decoded first, so a raw header works too.
    """
    if not subject:
        return None
    try:
        text = str(subject)
        if "=?" in text:
            text = decode_header_text(text)
        text = unicodedata.normalize("NFKC", text).translate(_DASHES)
        tokens = _invoice_tokens(text, strong_only=False)
        return tokens[0] if tokens else None
    except Exception:
        return None


def match_encoded_subject(raw_subject: str | None) -> str | None:
    """:func:`match_subject` for a raw, still RFC 2047-encoded Subject header value."""
    return match_subject(decode_header_text(raw_subject))


def _find_invoices(draft: _Draft) -> None:
    draft.invoice_number = match_subject(draft.subject)
    candidates: list[InvoiceCandidate] = []
    if draft.invoice_number:
        candidates.append(InvoiceCandidate(number=draft.invoice_number, source="subject"))
    body = unicodedata.normalize("NFKC", draft.body_text[: _CLASSIFY_CHARS * 2]).translate(_DASHES)
    for number in _invoice_tokens(body, strong_only=True):
        if len(candidates) >= MAX_INVOICE_CANDIDATES:
            break
        if all(candidate.number != number for candidate in candidates):
            candidates.append(InvoiceCandidate(number=number, source="body"))
    draft.invoice_candidates = candidates
