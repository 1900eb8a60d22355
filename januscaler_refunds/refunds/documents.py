"""Supporting documents: what an agent may upload, judged by content, read in bounded chunks.

Section 3 asks for "invoices, error logs, screenshots or other evidence". Agents upload documents
when they log a request by hand and from the review page; both go through
``refunds.services.document_attach``, which uses this module to:

- judge the bytes, not the name or the browser's label: the content is sniffed with
  ``intake.mime_sniff`` and must be one of ``ACCEPTED_TYPES`` (PDF, PNG, JPEG, GIF, WebP, plain
  text, EML). Text that is really HTML, and names that a browser or Windows would open as active
  content (``.html``, ``.svg``, ``.exe``...), are refused even when the bytes look like text;
- enforce the size limit while reading, chunk by chunk, into a temporary file on disk, so a
  300 MB upload never sits in memory and is refused as soon as it passes the limit.

Only documents of an accepted type count as supporting documentation (``counts_as_documentation``):
email and import attachments keep the intake's own rules and are stored, but a ZIP or a Word file
from an email is not counted.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from januscaler_refunds.intake.mime_sniff import DANGEROUS_EXTENSIONS, sniff_content_type

# The allowlist, with the words an agent reads in an error message.
ACCEPTED_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "text/plain": "plain text",
    "message/rfc822": "email (EML)",
}
ACCEPTED_WORDS = ", ".join(ACCEPTED_TYPES.values())

# Names a browser renders as a page (scripts included) even when the bytes sniff as plain text.
ACTIVE_EXTENSIONS = frozenset(
    {".html", ".htm", ".xhtml", ".xht", ".shtml", ".svg", ".svgz", ".xml", ".mht", ".mhtml"}
)
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<?xml")

CHUNK_BYTES = 64 * 1024
# Enough for every signature the sniffer knows (text is judged on its first 8 KiB).
HEAD_BYTES = 64 * 1024


class DocumentNotAccepted(ValueError):
    """A document was refused; ``rule`` names the rule, ``message`` says it for the agent."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class DocumentUpload:
    """A document to attach: ``content`` in memory (email, import, tests) or ``file`` to read in
    chunks (an upload Django spooled to disk). ``content_type`` is what the sender declared; the
    stored type is the sniffed one."""

    name: str
    content: bytes = b""
    content_type: str = "application/octet-stream"
    source: str = "admin"
    file: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if self.file is not None:
            if self.file.seekable():
                self.file.seek(0)
            return self.file
        return io.BytesIO(self.content)


def detected_type(name: str, head: bytes) -> str:
    """The sniffed content type, with text that is really markup reported as ``text/html``."""
    sniffed = sniff_content_type(head)
    if sniffed == "text/plain" and any(marker in head[:4096].lower() for marker in _HTML_MARKERS):
        return "text/html"
    return sniffed


def _extension(name: str) -> str:
    cleaned = name.strip().rstrip(". ").lower()
    dot = cleaned.rfind(".")
    return cleaned[dot:] if dot != -1 else ""


def judge(name: str, head: bytes) -> str:
    """Section 3: return the accepted content type of a document, or refuse it naming the rule."""
    extension = _extension(name)
    if extension in DANGEROUS_EXTENSIONS or extension in ACTIVE_EXTENSIONS:
        raise DocumentNotAccepted(
            "documents.type",
            f"{name} was not added: {extension} files can run code when opened. "
            f"Accepted: {ACCEPTED_WORDS}.",
        )
    content_type = detected_type(name, head)
    if content_type not in ACCEPTED_TYPES:
        what = "empty" if not head else f"of type {content_type}"
        raise DocumentNotAccepted(
            "documents.type",
            f"{name} was not added: its content is {what}, which is not accepted as evidence. "
            f"Accepted: {ACCEPTED_WORDS}.",
        )
    return content_type


def counts_as_documentation(content_type: str) -> bool:
    """Section 3: only documents of an accepted type count as supporting documentation."""
    return content_type in ACCEPTED_TYPES


@dataclass(frozen=True)
class SpooledDocument:
    """A judged document copied to a temporary file: its type, size and sha256."""

    file: IO[bytes]
    content_type: str
    size: int
    sha256: str


@contextmanager
def spooled(upload: DocumentUpload, *, limit: int, enforce_allowlist: bool = True) -> Iterator[SpooledDocument]:
    """Read ``upload`` once, in chunks, into a temporary file; refuse it as soon as it passes
    ``limit`` bytes, or (``enforce_allowlist``) when its content is not an accepted type.

    Memory stays at about one chunk plus the head, whatever the upload's size. The temporary file
    is removed when the block ends, stored or not.
    """
    source = upload.open()
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as spool:
        head = source.read(HEAD_BYTES)
        content_type = judge(upload.name, head) if enforce_allowlist else detected_type(upload.name, head)
        chunk = head
        while chunk:
            size += len(chunk)
            if size > limit:
                raise DocumentNotAccepted(
                    "documents.size",
                    f"{upload.name} was not added: it is larger than the limit of {limit:,} bytes "
                    f"({limit / 1024 / 1024:.0f} MB).",
                )
            digest.update(chunk)
            spool.write(chunk)
            chunk = source.read(CHUNK_BYTES)
        spool.seek(0)
        yield SpooledDocument(spool, content_type, size, digest.hexdigest())
