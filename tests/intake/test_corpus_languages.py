"""The language corpus: for every message, the customer's own words and nothing they quoted.

``tests/intake/corpus_languages/manifest.json`` lists, per ``.eml``: fragments the extracted customer
text must contain, fragments it must not (quoted or forwarded text, phone signatures), and the
requested amount and currency, or ``"none"`` where the message is ambiguous or names no amount.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake.parsing import customer_text, parse_message  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus_languages"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text("utf-8"))
LANGUAGES = {"en", "de", "fr", "es", "pt", "it", "nl", "ja", "hi", "hi-Latn"}


def test_the_manifest_covers_every_message_and_language() -> None:
    listed = {entry["file"] for entry in MANIFEST}
    on_disk = {path.name for path in CORPUS.glob("*.eml")}
    assert listed == on_disk
    assert {entry["language"] for entry in MANIFEST} == LANGUAGES
    assert any(entry["amount"] == "none" for entry in MANIFEST)


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_customer_text_has_the_customers_words_and_nothing_quoted(entry: dict[str, Any]) -> None:
    parsed = parse_message((CORPUS / entry["file"]).read_bytes())
    assert parsed.error is None
    own = customer_text(parsed.body_text)
    for fragment in entry["customer"]:
        assert fragment in own, f"{fragment!r} missing from {own!r}"
    for fragment in entry["forbidden"]:
        assert fragment not in own, f"quoted {fragment!r} leaked into {own!r}"


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_requested_amount_is_the_expected_one_or_absent(entry: dict[str, Any]) -> None:
    parsed = parse_message((CORPUS / entry["file"]).read_bytes())
    if entry["amount"] == "none":
        assert parsed.requested_amount is None, parsed.requested_amount_context
        assert parsed.requested_currency is None
    else:
        assert parsed.requested_amount == Decimal(entry["amount"])
        assert parsed.requested_currency == entry["currency"]
        assert parsed.requested_amount_context  # the agent can see where it was read
