"""Turn one raw email into the facts a refund intake needs. Pure Python, no Django.

The package is split by concern; every public name is re-exported here, so
``from januscaler_refunds.intake.parsing import X`` is the one import callers use:

=====================  ===========================================================================
``results``            ``ParsedMessage`` and friends, limits, the draft every step fills in
``mime``               MIME tree walking: parts to body text and attachments
``charsets``           charset repair and RFC 2047 header decoding
``html_text``          HTML to text
``headers``            message ids, addresses, sender, date, ``Re:``/``Fwd:`` subject prefixes
``automated``          bounces, auto-replies, list mail
``invoices``           invoice numbers from the subject
``replies``            reply and quote handling: what the customer wrote themselves
``amounts``            the amount and currency a customer asks for
``classification``     the proposed reason, and the step that fills reason and amount
``filenames``          attachment names safe to store
=====================  ===========================================================================

Customers ask for refunds by email with the subject "Refund Request: <Invoice Number>" (policy
section 4.1). Whatever arrives in the mailbox, :func:`parse_message` returns a
:class:`ParsedMessage`; it never raises. A message it cannot make sense of still comes back with its
``content_hash``, ``size`` and an ``error``, so it becomes a triage item instead of being lost.

Choices worth knowing (each is tested in ``tests/intake``):

Structure and limits
    The MIME tree is parsed by the stdlib feed parser with a policy derived from
    ``email.policy.default`` whose header fetch returns repaired plain text instead of header-registry
    objects: the feed parser re-reads each part's Content-Type about five times, and registry parsing
    made the 3 MB ``enclosed-endless.eml`` take ~1.4 s instead of ~0.2 s. Address headers are still
    parsed by ``email.policy.default``'s header registry (``email.utils`` as the fallback); unstructured
    headers go through :func:`decode_header_text`. If the parse raises anyway it is retried with
    ``compat32``. Parsing stops after ``MAX_MIME_PARTS`` parts or below ``MAX_MIME_DEPTH`` levels, keeping
    what was read so far and recording a defect, so hostile nesting costs bounded time and never hits
    Python's recursion limit. A message over ``max_message_bytes`` (``too_large``) is hashed in full but
    only its first ``TOO_LARGE_PREFIX_BYTES`` are parsed: headers and the first text, no attachments.

Text
    Every string returned is valid Unicode without NUL or lone surrogates, so it can go straight into a
    database. 8-bit header bytes are read as UTF-8, else Windows-1252. Charsets are decoded strictly
    first, then as UTF-8 (the usual mislabel), then leniently with U+FFFD; unknown charsets are tried as
    UTF-8 then Windows-1252. GB2312/GBK are read as GB18030, Shift_JIS as CP932, EUC-KR as CP949 and
    ISO-8859-1 as Windows-1252, as mail clients and browsers do. Adjacent RFC 2047 words in one charset are
    joined before decoding, so a character split across two words survives. ``body_text`` is the
    text/plain parts joined; when they are missing or blank, the text of the HTML parts. It is capped at
    ``MAX_BODY_CHARS``.

Attachments
    Every leaf that is not body text is an attachment, including inline images (pasted screenshots are
    evidence) and attached messages, which are kept whole as ``message/rfc822`` rather than opened.
    ``detected_type`` is sniffed from the bytes and is what the console should trust. An attachment is
    ``rejected`` (its ``content`` dropped, ``size`` and ``sha256`` kept) when it is larger than
    ``max_attachment_bytes``, when its bytes are executable (PE, ELF, Mach-O, Java class, "#!" script,
    .lnk), or when its name has an executable extension (.exe, .js, .vbs, ...). A harmless mismatch
    (declared image/png, content PDF) is accepted; ``detected_type`` wins and a defect records the
    mismatch. Attachments with identical bytes are kept once.

Classification (proposals for an agent, not decisions)
    ``invoice_number`` comes from the subject only, as section 4.1 requires; numbers seen in the body
    are listed in ``invoice_candidates`` with ``source="body"``. ``proposed_reason``, the requested
    amount and currency are read from the subject and the customer's own words: quoted replies and
    forwarded text are left out. See :func:`propose_reason` and :func:`extract_requested_amount`.
"""


from __future__ import annotations

import hashlib
from collections.abc import Callable
from email.message import EmailMessage, Message
from email.policy import compat32

from ..mime_sniff import sniff_content_type
from .amounts import extract_requested_amount
from .automated import _classify_automated
from .charsets import decode_header_text
from .classification import REASON_KEYWORDS, _classify_reason, propose_reason
from .filenames import sanitize_filename
from .headers import _HeaderIndex, _read_headers, normalize_message_id, strip_subject_prefixes
from .invoices import _find_invoices, match_encoded_subject, match_subject, normalize_invoice_number
from .mime import _POLICY, _collect_defects, _feed, _read_parts, _Scan
from .replies import customer_text
from .results import (
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_CHARS,
    MAX_FILENAME_CHARS,
    MAX_HEADER_CHARS,
    MAX_HTML_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_MIME_DEPTH,
    MAX_MIME_PARTS,
    TOO_LARGE_PREFIX_BYTES,
    InvoiceCandidate,
    ParsedAttachment,
    ParsedMessage,
    _Draft,
)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_BODY_CHARS",
    "MAX_FILENAME_CHARS",
    "MAX_HEADER_CHARS",
    "MAX_HTML_CHARS",
    "MAX_MESSAGE_BYTES",
    "MAX_MIME_DEPTH",
    "MAX_MIME_PARTS",
    "REASON_KEYWORDS",
    "TOO_LARGE_PREFIX_BYTES",
    "InvoiceCandidate",
    "ParsedAttachment",
    "ParsedMessage",
    "customer_text",
    "decode_header_text",
    "extract_requested_amount",
    "match_encoded_subject",
    "match_subject",
    "normalize_invoice_number",
    "normalize_message_id",
    "parse_message",
    "propose_reason",
    "sanitize_filename",
    "sniff_content_type",
    "strip_subject_prefixes",
]


def parse_message(
    raw: bytes,
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
) -> ParsedMessage:
    """Parse one raw RFC 5322 message. Never raises: failures set ``error`` and keep what was salvaged."""
    draft = _Draft()
    try:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = bytes(raw)
        draft.content_hash = hashlib.sha256(raw).hexdigest()
        draft.size = len(raw)
    except Exception as exc:
        draft.fail("input", exc)
        return draft.freeze()

    draft.too_large = len(raw) > max_message_bytes
    if draft.too_large:
        draft.defect("message too large")
    data = raw[:TOO_LARGE_PREFIX_BYTES] if draft.too_large else raw

    root: Message | None = None
    try:
        root = _parse_tree(data, draft)
    except Exception as exc:
        draft.fail("mime", exc)
    if root is None:
        return draft.freeze()

    scan = _Scan()
    headers = _HeaderIndex(root)
    _run(draft, "headers", lambda: _read_headers(headers, draft))
    _run(
        draft,
        "parts",
        lambda: _read_parts(
            root,
            draft,
            scan,
            max_attachment_bytes=max_attachment_bytes,
            with_attachments=not draft.too_large,
        ),
    )
    _run(draft, "defects", lambda: _collect_defects(root, draft, scan))
    _run(draft, "automated", lambda: _classify_automated(root, headers, draft, scan))
    _run(draft, "invoice", lambda: _find_invoices(draft))
    _run(draft, "reason", lambda: _classify_reason(draft))
    return draft.freeze()


def _run(draft: _Draft, step: str, action: Callable[[], None]) -> None:
    try:
        action()
    except Exception as exc:  # one broken step must not lose the others' results
        draft.fail(step, exc)


# Here rather than in ``mime`` so the steps parse_message runs are looked up in this module (tests
# replace ``parsing._feed`` or ``parsing._classify_reason`` to prove one failing step loses nothing).
def _parse_tree(data: bytes, draft: _Draft) -> Message | None:
    try:
        return _feed(data, _POLICY, EmailMessage, draft)
    except Exception as first:
        draft.defect(f"parsed with compat32 after {type(first).__name__}")
    try:
        return _feed(data, compat32, Message, draft)
    except Exception as exc:
        draft.fail("mime", exc)
        return None
