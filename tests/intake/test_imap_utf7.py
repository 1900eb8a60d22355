"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3) and the poll back-off."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake.imap_utf7 import (  # noqa: E402
    MailboxNameError,
    decode_mailbox_name,
    encode_mailbox_name,
)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # the RFC's own example
        ("Rückerstattungen/Eingang", "R&APw-ckerstattungen/Eingang"),
        ("返金", "&j9SR0Q-"),
        ("Tom & Jerry", "Tom &- Jerry"),
        ("Entwürfe ✉", "Entw&APw-rfe &Jwk-"),
    ],
)
def test_names_encode_as_the_rfc_says(name: str, encoded: str) -> None:
    assert encode_mailbox_name(name) == encoded
    assert decode_mailbox_name(encoded) == name


@given(st.text(max_size=40))
def test_every_name_survives_the_round_trip(name: str) -> None:
    encoded = encode_mailbox_name(name)  # hypothesis' text() has no lone surrogates
    assert encoded.isascii()
    assert decode_mailbox_name(encoded) == name


@pytest.mark.parametrize("bad", ["R&APw", "Rü", "&!!!-"])
def test_malformed_names_are_refused_clearly(bad: str) -> None:
    with pytest.raises(MailboxNameError):
        decode_mailbox_name(bad)
