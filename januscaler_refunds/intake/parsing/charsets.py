"""Charset repair: bytes and RFC 2047 header words in any (or a wrong) charset to clean Unicode."""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from typing import Any

from .results import MAX_HEADER_CHARS

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
