"""IMAP mailbox names in modified UTF-7 (RFC 3501 section 5.1.3). Pure Python, no Django.

IMAP servers name folders in a 7-bit encoding: printable ASCII stands for itself except ``&``
(written ``&-``); any other run of characters is written ``&`` + base64 of its UTF-16BE bytes, with
``,`` instead of ``/`` and no padding, + ``-``. So ``Rückerstattungen`` is ``R&APw-ckerstattungen``
and ``返金`` is ``&j9SR0g-``. Python's imaplib sends mailbox names as given, so callers encode first.
"""

from __future__ import annotations

import base64
import binascii


class MailboxNameError(ValueError):
    """A mailbox name that is not valid modified UTF-7."""


def _is_direct(char: str) -> bool:
    return "\x20" <= char <= "\x7e"


def encode_mailbox_name(name: str) -> str:
    """``"Rückerstattungen/返金"`` -> ``"R&APw-ckerstattungen/&j9SR0g-"``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if _is_direct(char):
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mailbox_name(encoded: str) -> str:
    """``"R&APw-ckerstattungen"`` -> ``"Rückerstattungen"``; raises MailboxNameError when malformed."""
    out: list[str] = []
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char != "&":
            if not _is_direct(char):
                raise MailboxNameError(f"raw non-ASCII character {char!r} in {encoded!r}")
            out.append(char)
            index += 1
            continue
        end = encoded.find("-", index + 1)
        if end == -1:
            raise MailboxNameError(f"unterminated '&' sequence in {encoded!r}")
        chunk = encoded[index + 1 : end]
        if not chunk:
            out.append("&")
        else:
            text = chunk.replace(",", "/")
            try:
                data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
                out.append(data.decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise MailboxNameError(f"bad modified UTF-7 {chunk!r} in {encoded!r}") from exc
        index = end + 1
    return "".join(out)
