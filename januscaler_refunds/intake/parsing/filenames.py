"""Attachment file names safe to store and offer for download."""

from __future__ import annotations

import re
import unicodedata

from ..mime_sniff import extension_for_type
from .charsets import _SURROGATES, _WHITESPACE
from .results import MAX_FILENAME_CHARS

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
