"""Turn one raw email into the facts a refund intake needs. Pure Python, stdlib only, no Django.

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

import base64
import binascii
import codecs
import hashlib
import html
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email import utils as email_utils
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, compat32
from email.policy import default as default_policy
from html.parser import HTMLParser
from typing import Any

from .mime_sniff import (
    DANGEROUS_TYPES,
    archive_member_names,
    dangerous_extension,
    extension_for_type,
    sniff_content_type,
    types_compatible,
)

__all__ = [
    "InvoiceCandidate",
    "ParsedAttachment",
    "ParsedMessage",
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
]

# --- Limits -----------------------------------------------------------------------------------------

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_MIME_DEPTH = 20
MAX_MIME_PARTS = 500
MAX_BODY_CHARS = 100_000
MAX_HTML_CHARS = 1_000_000  # HTML beyond this is not converted; the body cap is reached long before
MAX_HEADER_CHARS = 16_384  # a header value is cut (at a space) before decoding
MAX_FILENAME_CHARS = 150
MAX_ADDRESSES = 100
MAX_REFERENCES = 100
MAX_DEFECTS = 50
MAX_INVOICE_CANDIDATES = 10
TOO_LARGE_PREFIX_BYTES = 256 * 1024
_CLASSIFY_CHARS = 20_000  # how much of the customer's own text feeds reason and amount
_ERROR_CHARS = 500

# --- Results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceCandidate:
    """An invoice number seen in the message; ``source`` is ``"subject"`` or ``"body"``."""

    number: str
    source: str


@dataclass(frozen=True)
class ParsedAttachment:
    """One attachment. ``content`` is empty when ``rejected``; ``size``/``sha256`` describe the original."""

    filename: str
    declared_type: str
    detected_type: str
    size: int
    sha256: str
    content: bytes = field(repr=False)
    rejected: str | None = None
    original_filename: str | None = None


@dataclass(frozen=True)
class ParsedMessage:
    """Everything intake knows about one raw message. Fields cannot be reassigned."""

    content_hash: str
    size: int
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    to_addresses: list[str] = field(default_factory=list)
    date: datetime | None = None
    body_text: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    invoice_number: str | None = None
    invoice_candidates: list[InvoiceCandidate] = field(default_factory=list)
    is_reply: bool = False
    is_forward: bool = False
    is_automated: bool = False
    automated_kind: str | None = None
    proposed_reason: str = "other"
    requested_amount: Decimal | None = None
    requested_currency: str | None = None
    defects: list[str] = field(default_factory=list)
    too_large: bool = False
    error: str | None = None


@dataclass
class _Draft:
    """Mutable twin of ParsedMessage, filled step by step so a failing step loses only its own part."""

    content_hash: str = hashlib.sha256(b"").hexdigest()
    size: int = 0
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    to_addresses: list[str] = field(default_factory=list)
    date: datetime | None = None
    body_text: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    invoice_number: str | None = None
    invoice_candidates: list[InvoiceCandidate] = field(default_factory=list)
    is_reply: bool = False
    is_forward: bool = False
    is_automated: bool = False
    automated_kind: str | None = None
    proposed_reason: str = "other"
    requested_amount: Decimal | None = None
    requested_currency: str | None = None
    defects: list[str] = field(default_factory=list)
    too_large: bool = False
    error: str | None = None

    def defect(self, text: str) -> None:
        if text not in self.defects and len(self.defects) < MAX_DEFECTS:
            self.defects.append(text)

    def fail(self, step: str, exc: BaseException) -> None:
        if self.error is None:
            self.error = f"{step}: {type(exc).__name__}: {exc}"[:_ERROR_CHARS]

    def freeze(self) -> ParsedMessage:
        return ParsedMessage(**{f.name: getattr(self, f.name) for f in fields(ParsedMessage)})


# --- Entry point ------------------------------------------------------------------------------------


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


# --- MIME tree --------------------------------------------------------------------------------------


class _IntakePolicy(EmailPolicy):
    """``email.policy.default`` whose header fetch returns repaired, unfolded, capped plain text.

    The feed parser only needs Content-Type and friends as strings; returning text instead of a
    header-registry object keeps parsing linear (see the module docstring) and means a malformed
    header can no longer raise in the middle of the parse. 8-bit bytes are read as UTF-8 or
    Windows-1252 here, so filenames and charsets written raw by old clients come out readable.
    """

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name"):
            return value
        return _header_text(value)[0]


_POLICY = _IntakePolicy()
# Serialises attached messages back to bytes: raw header values, 8-bit bodies kept as they came.
_SERIALISE_POLICY = compat32.clone(cte_type="8bit", max_line_length=0, linesep="\r\n")


class _LimitReached(Exception):
    pass


class _CountingFactory:
    """Message factory for the feed parser that stops the parse at the part and depth limits."""

    def __init__(self, message_class: type[Message]) -> None:
        self.message_class = message_class
        self.parser: BytesFeedParser | None = None
        self.count = 0
        self.root: Message | None = None

    def __call__(self, policy: Any = None) -> Message:
        # The parser's stack of open parts is its nesting depth. It is private (unchanged since
        # Python 3.2); should it ever vanish, the part cap below still bounds the work.
        stack = getattr(self.parser, "_msgstack", None)
        if stack is not None and len(stack) > MAX_MIME_DEPTH:
            raise _LimitReached(f"MIME nesting deeper than {MAX_MIME_DEPTH} levels")
        if self.count >= MAX_MIME_PARTS:
            raise _LimitReached(f"more than {MAX_MIME_PARTS} MIME parts")
        self.count += 1
        message = self.message_class(policy=policy)
        if self.root is None:
            self.root = message
        return message


def _feed(data: bytes, policy: Any, message_class: type[Message], draft: _Draft) -> Message | None:
    factory = _CountingFactory(message_class)
    parser = BytesFeedParser(_factory=factory, policy=policy)
    # The parser calls the factory once while probing its signature; that message is not a part.
    factory.count = 0
    factory.root = None
    factory.parser = parser
    try:
        parser.feed(data)
        root: Message = parser.close()
        return root
    except _LimitReached as exc:
        draft.defect(str(exc))
        return factory.root


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


@dataclass
class _Scan:
    """What the walk over the parts saw, for the later classification steps."""

    content_types: set[str] = field(default_factory=set)
    parts: list[Message] = field(default_factory=list)
    recovered: bool = False


_DSN_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/rfc822-headers",
    }
)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _read_parts(
    root: Message,
    draft: _Draft,
    scan: _Scan,
    *,
    max_attachment_bytes: int,
    with_attachments: bool,
) -> None:
    plain: list[str] = []
    html_parts: list[str] = []
    collected = 0
    attachments: list[ParsedAttachment] = draft.attachments
    seen_hashes: set[str] = set()
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        scan.parts.append(part)
        if len(scan.parts) > MAX_MIME_PARTS:  # the factory already stops here; defensive
            draft.defect(f"more than {MAX_MIME_PARTS} MIME parts")
            break
        content_type = _content_type(part)
        scan.content_types.add(content_type)
        payload = part.get_payload()
        # Descend into multiparts, and into the root even when it is itself a message/* wrapper;
        # attached messages further down stay whole, as one attachment.
        if isinstance(payload, list) and (content_type.startswith("multipart/") or part is root):
            if depth >= MAX_MIME_DEPTH:
                draft.defect(f"MIME nesting deeper than {MAX_MIME_DEPTH} levels")
                continue
            stack.extend(
                (child, depth + 1) for child in reversed(payload) if isinstance(child, Message)
            )
            continue
        if content_type.startswith("multipart/") and isinstance(payload, str):
            # The declared boundary never occurs. Senders that get this wrong usually still write
            # a consistent delimiter, so try the first "--..." line once per message; failing that,
            # keep the raw text as body text rather than as a nameless attachment.
            recovered = None if scan.recovered else _recover_multipart(content_type, payload, draft)
            scan.recovered = True
            if recovered:
                stack.extend((child, depth + 1) for child in reversed(recovered))
                continue
            content_type = "text/plain"
        original_name = _part_filename(part)
        disposition = _disposition(part)
        if (
            content_type in ("text/plain", "text/html")
            and not original_name
            and disposition != "attachment"
        ):
            if collected < MAX_BODY_CHARS:
                text = _part_text(part, draft)
                collected += len(text)
                (plain if content_type == "text/plain" else html_parts).append(text)
            continue
        if not with_attachments:
            continue
        content = _part_bytes(part, content_type, draft)
        if not content and not original_name:
            continue  # an empty unnamed part carries nothing worth keeping
        attachment = _build_attachment(
            content=content,
            declared_type=content_type,
            original_name=original_name,
            index=len(attachments) + 1,
            max_attachment_bytes=max_attachment_bytes,
            draft=draft,
        )
        if attachment.sha256 in seen_hashes:
            continue
        seen_hashes.add(attachment.sha256)
        attachments.append(attachment)

    body = "\n\n".join(text.strip("\n") for text in plain if text.strip())
    if not body.strip() and html_parts:
        body = "\n\n".join(_html_to_text(text) for text in html_parts if text.strip())
    body = _clean_text(body.replace("\r\n", "\n").replace("\r", "\n"), keep_newlines=True).strip()
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        draft.defect("body text truncated")
    draft.body_text = body


_DELIMITER_LINE = re.compile(r"^--([^\s\"\\]{1,200})[ \t]*\r?$", re.MULTILINE)


def _recover_multipart(content_type: str, payload: str, draft: _Draft) -> list[Message] | None:
    match = _DELIMITER_LINE.search(payload[:65536])
    if not match:
        return None
    head = f'Content-Type: {content_type}; boundary="{match.group(1)}"\r\n\r\n'
    try:
        message = _feed(
            head.encode("ascii") + payload.encode("utf-8", "surrogateescape"),
            _POLICY,
            EmailMessage,
            draft,
        )
    except Exception:
        return None
    children = message.get_payload() if message is not None else None
    if not isinstance(children, list) or not children:
        return None
    draft.defect("multipart boundary recovered from the body")
    return [child for child in children if isinstance(child, Message)]


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _part_filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    text = str(name)
    if "=?" in text:  # RFC 2047 inside a parameter: not allowed, sent by Outlook and Gmail anyway
        text = decode_header_text(text)
    text = _clean_text(text, keep_newlines=False).strip()
    return text or None


def _part_bytes(part: Message, content_type: str, draft: _Draft) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        return _serialise_payload(part, draft)
    try:
        data = part.get_payload(decode=True)
    except Exception:
        draft.defect("undecodable part body")
        data = None
    if isinstance(data, bytes):
        return data
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _serialise_payload(part: Message, draft: _Draft) -> bytes:
    """The bytes inside a message/* part (an attached email, a delivery report) without its headers."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_SERIALISE_POLICY).flatten(part)
    except Exception:
        draft.defect("attached message could not be re-serialised")
        return b""
    data = buffer.getvalue()
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = data.find(separator)
        if index != -1:
            return data[index + len(separator) :]
    return b""


def _part_text(part: Message, draft: _Draft) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        draft.defect("undecodable part body")
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text, problem = _decode_bytes(data, charset)
    if problem:
        draft.defect(f"{problem} in body")
    return text


def _build_attachment(
    *,
    content: bytes,
    declared_type: str,
    original_name: str | None,
    index: int,
    max_attachment_bytes: int,
    draft: _Draft,
) -> ParsedAttachment:
    size = len(content)
    digest = hashlib.sha256(content).hexdigest()
    detected = sniff_content_type(content)
    filename = sanitize_filename(original_name, index, detected)
    rejected: str | None = None
    extension = dangerous_extension(filename) or dangerous_extension(original_name)
    if size > max_attachment_bytes:
        rejected = f"too large ({size} bytes > {max_attachment_bytes} bytes)"
    elif detected in DANGEROUS_TYPES:
        if types_compatible(declared_type, detected):
            rejected = f"executable content ({detected}) is not accepted"
        else:
            rejected = f"type mismatch: declared {declared_type} but content is {detected}"
    elif extension:
        rejected = f"dangerous file extension {extension}"
    elif detected == "application/zip" and (risky := _executable_member(content)):
        rejected = f"archive contains an executable ({risky})"
    elif not types_compatible(declared_type, detected):
        draft.defect(f"{filename}: declared {declared_type} but content is {detected}")
    return ParsedAttachment(
        filename=filename,
        declared_type=declared_type,
        detected_type=detected,
        size=size,
        sha256=digest,
        content=b"" if rejected else content,
        rejected=rejected,
        original_filename=original_name,
    )


def _executable_member(content: bytes) -> str | None:
    for name in archive_member_names(content):
        extension = dangerous_extension(name.rsplit("/", 1)[-1])
        if extension:
            return sanitize_filename(name, 0, "application/octet-stream")
    return None


# --- Defects ----------------------------------------------------------------------------------------

_DEFECT_NAMES = {
    "CloseBoundaryNotFoundDefect": "missing final boundary",
    "StartBoundaryNotFoundDefect": "missing start boundary",
    "NoBoundaryInMultipartDefect": "multipart without boundary",
    "MultipartInvariantViolationDefect": "multipart without parts",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation",
    "MisplacedEnvelopeHeaderDefect": "misplaced envelope header",
    "MissingHeaderBodySeparatorDefect": "missing blank line after headers",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with a transfer encoding",
    "InvalidBase64PaddingDefect": "invalid base64 padding",
    "InvalidBase64CharactersDefect": "invalid base64 characters",
    "InvalidBase64LengthDefect": "invalid base64 length",
    "UndecodableBytesDefect": "undecodable bytes",
    "InvalidHeaderDefect": "invalid header",
    "HeaderMissingRequiredValue": "header missing a required value",
    "NonPrintableDefect": "non-printable header characters",
    "ObsoleteHeaderDefect": "obsolete header syntax",
    "NonASCIICharactersInHeader": "8-bit header",
}


def _defect_name(defect: object) -> str:
    name = type(defect).__name__
    if name in _DEFECT_NAMES:
        return _DEFECT_NAMES[name]
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name.removesuffix("Defect")).lower()
    return words or "defect"


def _collect_defects(root: Message, draft: _Draft, scan: _Scan) -> None:
    try:
        has_content_type = root.get("content-type") is not None
    except Exception:
        has_content_type = True
    if not has_content_type:
        draft.defect("no Content-Type")
    for part in scan.parts:
        for defect in getattr(part, "defects", ()):
            draft.defect(_defect_name(defect))


# --- Headers ----------------------------------------------------------------------------------------

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ALL = re.compile("[\x00-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WHITESPACE = re.compile(r"\s+")


def _clean_text(text: str, *, keep_newlines: bool) -> str:
    """Text safe to store: lone surrogates become U+FFFD, NUL and other controls go."""
    text = _SURROGATES.sub("\ufffd", text)
    if keep_newlines:
        return _CONTROL.sub("", text)
    return _CONTROL_ALL.sub(" ", text)


def _header_text(value: Any) -> tuple[str, list[str]]:
    """A raw header value as text: 8-bit bytes decoded, folding removed, cut at MAX_HEADER_CHARS."""
    problems: list[str] = []
    text = value if isinstance(value, str) else str(value)
    if _SURROGATES.search(text):
        text, valid_utf8 = _decode_8bit(text.encode("utf-8", "surrogateescape"))
        if not valid_utf8:
            problems.append("8-bit header not UTF-8")
    text = _FOLD.sub("", text).replace("\r", " ").replace("\n", " ")
    if len(text) > MAX_HEADER_CHARS:
        cut = text.rfind(" ", 0, MAX_HEADER_CHARS)
        text = text[: cut if cut > MAX_HEADER_CHARS // 2 else MAX_HEADER_CHARS]
        problems.append("header too long")
    return text, problems


class _HeaderIndex:
    """The message's raw headers by lower-cased name, built once (a message may carry thousands)."""

    def __init__(self, message: Message) -> None:
        self._values: dict[str, list[Any]] = {}
        for key, value in message.raw_items():
            self._values.setdefault(str(key).lower(), []).append(value)

    def first(self, name: str) -> tuple[str | None, list[str]]:
        """The first ``name`` header as text, plus any problems met reading it."""
        values = self._values.get(name.lower())
        return _header_text(values[0]) if values else (None, [])

    def text(self, name: str) -> str:
        """The first ``name`` header, stripped and lower-cased, or ``""``."""
        return (self.first(name)[0] or "").strip().lower()

    def all(self, name: str) -> list[str]:
        return [
            _header_text(value)[0] for value in self._values.get(name.lower(), [])[:MAX_ADDRESSES]
        ]


def _header(headers: _HeaderIndex, name: str, draft: _Draft) -> str | None:
    text, problems = headers.first(name)
    _note_header_problems(draft, name, problems)
    return text


def _note_header_problems(draft: _Draft, name: str, problems: list[str]) -> None:
    for problem in problems:
        if problem.startswith(("unknown charset", "undecodable")):
            draft.defect(f"undecodable header: {name.lower()}")
        draft.defect(f"{problem}: {name.lower()}")


_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")

# How mail clients actually use these labels (and what browsers decode them as).
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "tis-620": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "ansi_x3.4-1968": "ascii",
}
_ASCII_LABELS = frozenset({"ascii", "us-ascii", "us", "646"})


def _resolve_charset(label: str | None) -> str | None:
    """A Python text codec for a MIME charset label, or None when there is none."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower().split("*", 1)[0]
    name = _CHARSET_ALIASES.get(name, name)
    candidates = [name]
    if name.startswith("x-"):
        candidates.append(name[2:])
    candidates.append(name.replace("-", "").replace("_", ""))
    for candidate in candidates:
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        try:
            b"".decode(info.name)  # refuses bytes-to-bytes codecs such as base64 or rot13
        except LookupError:
            continue
        return info.name
    return None


def _decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode bytes in a declared charset: strictly, else as UTF-8, else leniently.

    Returns the text and a short problem (``unknown charset X`` or ``undecodable bytes``) or None.
    """
    codec = _resolve_charset(label)
    unknown = (
        codec is None
        and label is not None
        and label.strip().strip("\"'").lower() not in _ASCII_LABELS
    )
    problem = f"unknown charset {label.strip()[:40]}" if unknown and label else None
    text: str | None = None
    if codec is not None and codec != "ascii":
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            pass
        except Exception:  # a broken codec must not take the message down
            codec = None
    if text is None:
        try:
            text = data.decode("utf-8")  # the commonest mislabel: UTF-8 declared as something else
        except UnicodeDecodeError:
            if codec is not None and codec != "ascii":
                try:
                    text = data.decode(codec, "replace")
                except Exception:
                    text = None
            if text is None:
                text = _decode_8bit(data)[0]
            if "\ufffd" in text and problem is None:
                problem = "undecodable bytes"
    return text, problem


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def _decode_8bit(data: bytes) -> tuple[str, bool]:
    """Bytes of no declared charset: UTF-8 if valid, or mostly valid (a name cut mid-character),
    else Windows-1252. Returns the text and whether it was valid UTF-8."""
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", "replace")
    if len(_UTF8_SEQUENCE.findall(data)) > lenient.count("\ufffd"):
        return lenient, False
    return data.decode("cp1252", "replace"), False


def _decode_b(text: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(cleaned) % 4 == 1:  # a dangling character carries no complete byte
        cleaned = cleaned[:-1]
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned)
    except (binascii.Error, ValueError):
        return b""


def _decode_q(text: str) -> bytes:
    data = text.replace("_", " ").encode("utf-8", "surrogateescape")
    return _Q_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), data)


def _decode_words(value: str) -> tuple[str, list[str]]:
    """Decode RFC 2047 encoded words in ``value``; returns the text and problems met."""
    problems: list[str] = []
    text, header_problems = _header_text(value)
    problems.extend(header_problems)
    if "=?" not in text:
        return _WHITESPACE.sub(" ", _clean_text(text, keep_newlines=False)).strip(), problems
    # Tokens: plain text, or (charset label, bytes) runs. Whitespace between two encoded words is
    # dropped (RFC 2047 section 6.2); adjacent words in one charset are joined before decoding.
    pieces: list[str | tuple[str, bytearray]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        previous_is_word = bool(pieces) and isinstance(pieces[-1], tuple)
        if gap and not (previous_is_word and not gap.strip()):
            pieces.append(gap)
        label, encoding, encoded = match.group(1), match.group(2).upper(), match.group(3)
        data = _decode_b(encoded) if encoding == "B" else _decode_q(encoded)
        key = label.lower().split("*", 1)[0]
        last = pieces[-1] if pieces else None
        if isinstance(last, tuple) and last[0] == key:
            last[1].extend(data)
        else:
            pieces.append((key, bytearray(data)))
        position = match.end()
    pieces.append(text[position:])
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        decoded, problem = _decode_bytes(bytes(piece[1]), piece[0])
        if problem:
            problems.append(problem)
        out.append(decoded)
    result = _clean_text("".join(out), keep_newlines=False)
    return _WHITESPACE.sub(" ", result).strip(), problems


def decode_header_text(value: str | None) -> str:
    """Decode an unstructured header value (RFC 2047 words in any charset); never raises.

    Unknown charsets and bad bytes come out as readable text or U+FFFD, never as ``=?...?=`` soup.
    """
    if not value:
        return ""
    try:
        return _decode_words(str(value))[0]
    except Exception:
        return _WHITESPACE.sub(" ", _clean_text(str(value), keep_newlines=False)).strip()


_ANGLE_TOKEN = re.compile(r"<([^<>]*)>")


def normalize_message_id(value: str | None) -> str | None:
    """``" <abc@example.com> "`` -> ``"abc@example.com"``; None when nothing is left."""
    if not value:
        return None
    match = _ANGLE_TOKEN.search(value)
    token = match.group(1) if match else value
    token = _clean_text(_WHITESPACE.sub("", token), keep_newlines=False).strip("<>")
    return token[:998] or None


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    tokens = _ANGLE_TOKEN.findall(value) or value.split()
    result: list[str] = []
    for token in tokens:
        normalised = normalize_message_id(f"<{token}>")
        if normalised and normalised not in result:
            result.append(normalised)
    return result[-MAX_REFERENCES:]


def _addresses(name: str, text: str | None) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs from an address header, registry first, email.utils second."""
    if not text:
        return []
    pairs: list[tuple[str, str]] = []
    try:
        header = default_policy.header_factory(name, _alias_word_charsets(text))
        pairs = [(a.display_name or "", a.addr_spec or "") for a in header.addresses]
    except Exception:
        pairs = []
    if not any("@" in spec for _, spec in pairs):
        try:
            pairs = [
                (decode_header_text(display), spec)
                for display, spec in email_utils.getaddresses([text])
                if spec
            ]
        except Exception:
            pairs = []
    cleaned = []
    for display, spec in pairs[:MAX_ADDRESSES]:
        spec = _clean_text(spec, keep_newlines=False).strip().strip("<>").lower()
        display = _WHITESPACE.sub(" ", _clean_text(display, keep_newlines=False)).strip()
        if "@" in spec and " " not in spec:
            cleaned.append((display, spec))
    return cleaned


def _alias_word_charsets(text: str) -> str:
    """Rewrite encoded-word charset labels (gb2312 -> gb18030 ...) for the header registry."""

    def replace(match: re.Match[str]) -> str:
        label = match.group(1).lower().split("*", 1)[0]
        alias = _CHARSET_ALIASES.get(label)
        return f"=?{alias}?{match.group(2)}?{match.group(3)}?=" if alias else match.group(0)

    return _ENCODED_WORD.sub(replace, text)


_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")


def _sender(text: str | None) -> tuple[str, str] | None:
    """(display name, address) of a From header.

    A lone ``<address>`` is the address, whatever precedes it: ``alice@example.com <bob@example.com>``
    is from bob (the unquoted display name is a well-known spoofing trick that parsers read as alice).
    """
    if not text:
        return None
    pairs = _addresses("from", text)
    angle = _ANGLE_ADDRESS.findall(text)
    if len(angle) == 1:
        spec = _clean_text(angle[0], keep_newlines=False).lower()
        for display, candidate in pairs:
            if candidate == spec:
                return display, spec
        display = decode_header_text(text[: text.find("<")]).strip().strip('"').strip()
        return display, spec
    return pairs[0] if pairs else None


_DATE_COMMENT = re.compile(r"\([^()]*\)")


def _parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    # "(EDT)"-style comments confuse the stdlib parser into dropping the numeric offset.
    cleaned = _WHITESPACE.sub(" ", _DATE_COMMENT.sub(" ", text)).strip()
    parsed = email_utils.parsedate_to_datetime(cleaned)
    if (
        parsed.tzinfo is None
    ):  # "-0000" or a missing zone: RFC 5322 says the zone is unknown; use UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _read_headers(headers: _HeaderIndex, draft: _Draft) -> None:
    subject_raw = _header(headers, "Subject", draft)
    if subject_raw is not None:
        subject, problems = _decode_words(subject_raw)
        _note_header_problems(draft, "Subject", problems)
        draft.subject = subject

    draft.message_id = normalize_message_id(_header(headers, "Message-ID", draft))
    draft.in_reply_to = normalize_message_id(_header(headers, "In-Reply-To", draft))
    draft.references = _message_ids(_header(headers, "References", draft))

    sender = _sender(_header(headers, "From", draft))
    if sender:
        display, spec = sender
        draft.from_address = spec
        draft.from_name = display or None
    else:
        draft.defect("no usable From address")

    recipients: list[str] = []
    for value in headers.all("To"):
        for _, spec in _addresses("to", value):
            if spec not in recipients and len(recipients) < MAX_ADDRESSES:
                recipients.append(spec)
    draft.to_addresses = recipients

    date_raw = _header(headers, "Date", draft)
    try:
        draft.date = _parse_date(date_raw)
    except Exception:
        draft.defect("unparseable Date")

    prefixes = _subject_prefixes(draft.subject)
    draft.is_reply = bool(prefixes & _REPLY_PREFIXES) or draft.in_reply_to is not None
    draft.is_forward = bool(prefixes & _FORWARD_PREFIXES)


# --- Reply, forward and automated mail --------------------------------------------------------------

_REPLY_PREFIXES = frozenset({"re", "aw", "sv", "antw", "antwort", "vs", "odp", "ref", "rif", "ynt"})
_FORWARD_PREFIXES = frozenset({"fwd", "fw", "wg", "tr", "rv", "enc", "doorst"})
_PREFIX = re.compile(
    r"""^\s*(?:
        (?P<tag>\[[^\[\]]{0,60}\]|\((?:external|ext|extern|externe|spam|suspicious)\)|\*{1,3}\s*(?:external|ext|spam)\s*\*{1,3})
      | (?P<word>re|aw|sv|antw|antwort|vs|odp|ref|rif|ynt|fwd|fw|wg|tr|rv|enc|doorst)
        \s*(?:\[\d{1,4}\]|\(\d{1,4}\)|\^\d{1,4})?\s*[:：]
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)


def _subject_prefixes(subject: str) -> set[str]:
    """The reply/forward words in the subject's leading ``Re: Fwd: [External]`` chain, lower-cased."""
    found: set[str] = set()
    rest = subject or ""
    for _ in range(100):
        match = _PREFIX.match(rest)
        if not match or match.end() == 0:
            break
        if match.group("word"):
            found.add(match.group("word").lower())
        rest = rest[match.end() :]
    return found


def strip_subject_prefixes(subject: str) -> str:
    """``"RE: [External] Fwd: Refund"`` -> ``"Refund"``."""
    rest = subject or ""
    for _ in range(100):
        match = _PREFIX.match(rest)
        if not match or match.end() == 0:
            break
        rest = rest[match.end() :]
    return rest.strip()


_DAEMON_SENDERS = frozenset({"mailer-daemon", "mailer_daemon", "mail-daemon", "maildaemon"})
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|delivery (?:status|failure|failed|notification|has failed)"
    r"|mail delivery failed|failure notice|non-?delivery|nondeliverable",
    re.IGNORECASE,
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (?:the )?office"
    r"|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica)\b",
    re.IGNORECASE,
)


def _classify_automated(root: Message, headers: _HeaderIndex, draft: _Draft, scan: _Scan) -> None:
    kind = _automated_kind(root, headers, draft, scan)
    draft.is_automated = kind is not None
    draft.automated_kind = kind


def _automated_kind(root: Message, headers: _HeaderIndex, draft: _Draft, scan: _Scan) -> str | None:
    """``bounce``, ``disposition_notification``, ``feedback_report``, ``report``, ``auto_reply``,
    ``bulk``, or None for mail a person wrote. Checked in that order; the first match wins."""
    top_type = _content_type(root)
    try:
        report_type = str(root.get_param("report-type") or "").strip().lower()
    except Exception:
        report_type = ""
    types = scan.content_types

    header = headers.text
    sender = draft.from_address or header("from")
    sender_local = sender.split("@", 1)[0].strip().strip("<>\"' ")
    null_sender = header("return-path") == "<>" or header("x-envelope-from") == "<>"

    is_report = top_type == "multipart/report"
    if (
        (is_report and report_type == "delivery-status")
        or types & {"message/delivery-status", "message/global-delivery-status"}
        or header("x-failed-recipients")
        or sender_local in _DAEMON_SENDERS
        # postmaster@ is also a person's address (the corpus has one); it needs a bounce subject.
        or (
            (null_sender or sender_local == "postmaster")
            and _BOUNCE_SUBJECT.search(draft.subject or "")
        )
    ):
        return "bounce"
    if (is_report and report_type == "disposition-notification") or types & {
        "message/disposition-notification",
        "message/global-disposition-notification",
    }:
        return "disposition_notification"
    if (is_report and report_type == "feedback-report") or "message/feedback-report" in types:
        return "feedback_report"
    if is_report:
        return "report"
    auto_submitted = header("auto-submitted").split(";", 1)[0].strip()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if any(header(name) for name in ("x-autoreply", "x-autorespond", "x-auto-reply")):
        return "auto_reply"
    if header("x-autogenerated") == "reply" or _AUTO_REPLY_SUBJECT.search(draft.subject or ""):
        return "auto_reply"
    if header("precedence") in ("bulk", "junk", "list"):
        return "bulk"
    if header("list-id") or header("list-unsubscribe"):
        return "bulk"
    return None


# --- Invoice numbers --------------------------------------------------------------------------------

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


# --- The customer's own words: reason and amount ----------------------------------------------------

_QUOTE_HEADER_LINE = re.compile(
    r"""^(?:-{2,}\s*Original\s+Message\s*-{2,}
      | -{2,}\s*(?:Forwarded|Weitergeleitete)\s+(?:message|Nachricht)\s*-{2,}
      | Begin\s+forwarded\s+message:
      | _{20,}\s*$)""",
    re.IGNORECASE | re.VERBOSE,
)
_ATTRIBUTION_START = re.compile(r"^(?:On|Am|Le|El)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(?:wrote|schrieb|a\s+[ée]crit|escribi[óo])\s*:\s*$", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(r"^(?:Sent|Date|Gesendet|Envoy[ée]|Enviado)\s*:", re.IGNORECASE)


def customer_text(body: str) -> str:
    """The part of a body the sender wrote: up to the first quote header, without ``>`` lines.

    Cuts at "On <date>, <name> wrote:" (also when wrapped over two lines, and its German, French and
    Spanish forms), "-----Original Message-----", Outlook's "From: / Sent:" block, forwarded-message
    markers and Outlook's underscore rule.
    """
    lines = body.splitlines()
    own: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _QUOTE_HEADER_LINE.match(stripped):
            break
        if _ATTRIBUTION_START.match(stripped) and len(stripped) < 400:
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if _ATTRIBUTION_END.search(stripped) or (
                len(following) < 200 and _ATTRIBUTION_END.search(following)
            ):
                break
        if stripped.lower().startswith("from:") and index + 1 < len(lines):
            following = lines[index + 1].strip() or (
                lines[index + 2].strip() if index + 2 < len(lines) else ""
            )
            if _OUTLOOK_FIELD.match(following):
                break
        if not stripped.startswith(">"):
            own.append(line)
    return "\n".join(own)


def _keyword_patterns(*phrases: str) -> list[re.Pattern[str]]:
    return [re.compile(phrase, re.IGNORECASE) for phrase in phrases]


# Phrases per reason. Counting matches decides; ties go to the earlier reason in this table, so
# "charged twice during the outage" is a billing error. Documented for agents as a proposal only.
REASON_KEYWORDS: dict[str, list[re.Pattern[str]]] = {
    "billing_error": _keyword_patterns(
        r"\bover-?charg(?:e|ed|es|ing)\b",
        r"\bcharged\s+(?:me\s+)?(?:twice|two\s+times|double|2x)\b",
        r"\bbilled\s+(?:me\s+)?(?:twice|two\s+times|double)\b",
        r"\bdouble[-\s]?(?:charged?|billed|billing)\b",
        r"\bduplicate\s+(?:charge|payment|invoice|billing)\b",
        r"\bwrong\s+(?:invoice|amount|charge|bill|price|plan)\b",
        r"\bincorrect(?:ly)?\s+(?:amount|invoice|charge[ds]?|bill(?:ed|ing)?|price)\b",
        r"\bbilling\s+(?:error|mistake|issue)\b",
    ),
    "service_unavailability": _keyword_patterns(
        r"\boutages?\b",
        r"\bdown-?time\b",
        r"\b(?:is|was|were|are|went|been|being|goes|go)\s+(?:completely\s+|totally\s+)?down\b",
        r"\b(?:service|site|server|servers|platform|app|api|system|website|dashboard)\s+down\b",
        r"\bunavailab(?:le|ility)\b",
        r"\bnot\s+available\b",
        r"\bSLA\b",
        r"\bnot\s+working\b",
        r"\b(?:can'?t|cannot|could\s*n[o']t|couldn'?t|unable\s+to|not\s+able\s+to)\s+"
        r"(?:connect|log\s*in|login|access|reach|use)\b",
        r"\bnot\s+connect(?:ing)?\b",
        r"\bservice\s+interruption\b",
    ),
    "money_back_guarantee": _keyword_patterns(
        r"\bmoney[-\s]?back\b",
        r"\b(?:7|seven)[-\s]?days?\b",
        r"\bguarantee[ds]?\b",
        r"\bcancel(?:l?ed|l?ing)?\s+within\b",
        r"\bjust\s+signed\s+up\b",
        r"\bchanged\s+my\s+mind\b",
        r"\bfirst\s+purchase\b",
    ),
}


def propose_reason(text: str) -> str:
    """``billing_error``, ``service_unavailability``, ``money_back_guarantee`` or ``other``.

    The reason whose phrases occur most often wins; ties go to the order above. Deterministic.
    """
    best, best_score = "other", 0
    for reason, patterns in REASON_KEYWORDS.items():
        score = sum(len(pattern.findall(text)) for pattern in patterns)
        if score > best_score:
            best, best_score = reason, score
    return best


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


def _classify_reason(draft: _Draft) -> None:
    own = customer_text(draft.body_text[: _CLASSIFY_CHARS * 2])[:_CLASSIFY_CHARS]
    text = f"{strip_subject_prefixes(draft.subject)}\n{own}"
    draft.proposed_reason = propose_reason(text)
    draft.requested_amount, draft.requested_currency = extract_requested_amount(text)


# --- HTML to text -----------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "template", "title", "xml", "head"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "pre", "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center",
        "form", "fieldset", "main", "nav", "aside", "figure", "figcaption", "tbody", "thead",
    }
)  # fmt: skip


class _HTMLToText(HTMLParser):
    """HTML to readable text: tags go, entities are unescaped, blocks and ``<br>`` become line
    breaks, scripts and styles vanish, and ``<blockquote>`` lines get ``> `` like a plain reply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0
        self.size = 0

    def _newline(self) -> None:
        self.chunks.append("\n" + "> " * self.quote)
        self.size += 1 + 2 * self.quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag != "head" or not self.skip:
                self.skip += 1
            return
        if tag == "body" and self.skip:
            self.skip = 0  # an unclosed <head> must not swallow the body
        if tag == "blockquote":
            self.quote += 1
            self._newline()
        elif tag == "br" or tag in _BLOCK_TAGS:
            self._newline()
        if tag == "li":
            self.chunks.append("- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "p", "div"):
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            data = data.replace("\n", "\n" + "> " * self.quote)
        else:
            data = _WHITESPACE.sub(" ", data)
        self.chunks.append(data)
        self.size += len(data)


_TAG = re.compile(r"<[^>]*>")


def _html_to_text(markup: str) -> str:
    markup = markup[:MAX_HTML_CHARS]
    try:
        parser = _HTMLToText()
        # Fed in slices so a huge newsletter stops costing time once the body cap is reached.
        for start in range(0, len(markup), 65536):
            parser.feed(markup[start : start + 65536])
            if parser.size > MAX_BODY_CHARS:
                break
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser is lenient, but an odd document must not cost the body
        text = html.unescape(_TAG.sub(" ", markup))
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        line = line.strip()
        if not line.strip("> "):
            if lines and not blank:
                lines.append("")
            blank = True
            continue
        lines.append(line)
        blank = False
    return "\n".join(lines).strip()


# --- File names -------------------------------------------------------------------------------------

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_UNSAFE_FILENAME_CHARS = re.compile(r'[<>:"|?*]')


def sanitize_filename(name: str | None, index: int, detected_type: str) -> str:
    """A file name safe to store and to offer for download.

    Keeps only the last path component (``../../etc/passwd`` -> ``passwd``, ``C:\\x\\y.pdf`` ->
    ``y.pdf``), drops control and bidi/format characters (so ``invoice\\u202egpj.exe`` shows its real
    ``.exe``), replaces ``<>:"|?*``, trims dots and spaces at the ends, normalises to NFC, guards Windows
    device names and keeps at most ``MAX_FILENAME_CHARS`` characters, extension preserved. When nothing
    usable is left the name is ``attachment-<index><extension of detected_type>``, ``index`` counting
    from 1.
    """
    fallback = f"attachment-{index}{extension_for_type(detected_type)}"
    if not name:
        return fallback
    text = unicodedata.normalize("NFC", _SURROGATES.sub("\ufffd", str(name)))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
    )
    text = _UNSAFE_FILENAME_CHARS.sub("_", text)
    text = _WHITESPACE.sub(" ", text).strip(" .")
    if not any(ch.isalnum() for ch in text):
        return fallback
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        stem, extension = text, ""
    if stem.split(".", 1)[0].strip().upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_FILENAME_CHARS - len(suffix)].rstrip(" .")
    result = unicodedata.normalize("NFC", stem + suffix)
    return result if stem else fallback
