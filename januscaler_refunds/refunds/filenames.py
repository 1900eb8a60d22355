"""The name an uploaded document is shown and stored under, whatever the sender called it.

Names come from browsers, email attachments and imports and may be hostile: ``../../etc/passwd``,
``C:\\..\\win.ini``, NUL bytes (PostgreSQL refuses them), CR/LF (they would end a
Content-Disposition header). Only the last path component survives, without control characters
or leading dots; the storage folder and hash prefix come from the request (document_upload_to).
"""

from __future__ import annotations

MAX_NAME = 200


def safe_document_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".").strip()
    return base[:MAX_NAME] or "document"
