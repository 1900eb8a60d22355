"""What parsing returns, the limits it works within, and the exception its steps share.

Every other module of the package imports from here and nothing here imports them back, so the
modules form a tree (results <- charsets <- headers, mime, ... <- ``__init__``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal

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


class _LimitReached(Exception):
    """Raised inside the MIME parse when a part or depth limit is reached; caught by its caller."""


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
    # Where the amount was read ("… please refund $49.00 to my card …"), or why none was (a note
    # for the agent when the customer's words name several amounts).
    requested_amount_context: str = ""
    requested_amount_note: str = ""
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
    # Where the amount was read ("… please refund $49.00 to my card …"), or why none was (a note
    # for the agent when the customer's words name several amounts).
    requested_amount_context: str = ""
    requested_amount_note: str = ""
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
