"""Header fields: message ids, addresses, sender, date, subject prefixes (``Re:``, ``AW:``, ``Fwd:``)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from email import utils as email_utils
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from .charsets import (
    _CHARSET_ALIASES,
    _ENCODED_WORD,
    _WHITESPACE,
    _clean_text,
    _decode_words,
    _header_text,
    decode_header_text,
)
from .results import MAX_ADDRESSES, MAX_REFERENCES, _Draft


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
    """(display name, addr-spec) pairs from an address header, registry first, email.utils second.

    Remembered per header text: a mailbox sees the same To (the billing address) and the same
    senders again and again, and the header registry's parse is the costliest step of a header."""
    if not text or len(text) > 2000:
        return _parse_addresses(name, text)
    return list(_remembered_addresses(name.lower(), text))


@functools.lru_cache(maxsize=4096)
def _remembered_addresses(name: str, text: str) -> tuple[tuple[str, str], ...]:
    return tuple(_parse_addresses(name, text))


def _parse_addresses(name: str, text: str | None) -> list[tuple[str, str]]:
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
