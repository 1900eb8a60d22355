"""MIME tree walking: parse the bytes into parts, sort them into body text and attachments.

Parsing stops at ``MAX_MIME_PARTS`` parts or ``MAX_MIME_DEPTH`` levels; see the package docstring.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from email.feedparser import BytesFeedParser
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, compat32
from typing import Any

from ..mime_sniff import (
    DANGEROUS_TYPES,
    archive_member_names,
    dangerous_extension,
    sniff_content_type,
    types_compatible,
)
from .charsets import _clean_text, _decode_bytes, _header_text, decode_header_text
from .filenames import sanitize_filename
from .html_text import _html_to_text
from .results import (
    MAX_BODY_CHARS,
    MAX_MIME_DEPTH,
    MAX_MIME_PARTS,
    ParsedAttachment,
    _Draft,
    _LimitReached,
)

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
