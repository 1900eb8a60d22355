"""One test per hand-written reply rule (R1-R4 in ``intake/parsing/replies.py``).

Each test first shows that mail-parser-reply alone lets the text through (so the rule is still
needed: when a library upgrade fixes it, that assertion fails and the rule can go), then that
``customer_text`` removes it and keeps the customer's words.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mailparser_reply import EmailReplyParser

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake.parsing import customer_text  # noqa: E402
from januscaler_refunds.intake.parsing.replies import REPLY_LANGUAGES  # noqa: E402


def library_only(body: str) -> str:
    return EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(body).replies[0].body


QUOTE = "> Wir haben Ihre Anfrage über 99,00 € erhalten."


def test_r1_quoted_lines_are_dropped_even_without_a_known_header() -> None:
    body = f"Bitte 49,00 € erstatten.\n\nIrgendein Kopf ohne Muster\n{QUOTE}\n"
    assert "99,00" in library_only(body)
    own = customer_text(body)
    assert "Bitte 49,00 € erstatten." in own
    assert "99,00" not in own


@pytest.mark.parametrize(
    "attribution",
    [
        "Em seg., 3 de mar. de 2025 às 10:15, Januscaler Billing <billing@januscaler.com> escreveu:",
        "सोम, 3 मार्च 2025 को 2:45 pm बजे Januscaler Billing <billing@januscaler.com> ने लिखा:",
        "2025/03/03 10:15、Januscaler Billing <billing@januscaler.com>のメッセージ:",
        "2025/03/03 10:15 に Januscaler Billing さんは書きました:",
    ],
)
def test_r2_attribution_lines_the_library_does_not_know_end_the_customer_text(
    attribution: str,
) -> None:
    body = f"Quero o reembolso.\n\n{attribution}\n\nTexto citado sem sinal de citação.\n"
    assert attribution in library_only(body)
    own = customer_text(body)
    assert own == "Quero o reembolso."


def test_r2_a_sentence_that_mentions_escreveu_is_kept() -> None:
    body = "Em resumo, o cliente escreveu: quero o reembolso de R$ 10,00 agora mesmo por favor.\n"
    assert customer_text(body) == body.strip()


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "-------- Weitergeleitete Nachricht --------",
        "-------- Message transféré --------",
        "Begin forwarded message:",
    ],
)
def test_r3_forwarded_messages_are_not_the_customers_words(marker: str) -> None:
    body = f"See below, refund $10 please.\n\n{marker}\nFrom: Finance\n\nPaid $2,401.00.\n"
    assert "2,401.00" in library_only(body) or marker in library_only(body)
    own = customer_text(body)
    assert own == "See below, refund $10 please."


@pytest.mark.parametrize(
    "line",
    [
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado do meu iPhone",
        "iPhoneから送信",
        "Sent from Outlook for Android",
    ],
)
def test_r4_sent_from_my_phone_lines_are_dropped(line: str) -> None:
    body = f"Bitte erstatten.\n\n{line}\n"
    assert line in library_only(body)
    assert customer_text(body) == "Bitte erstatten."


def test_a_plain_message_comes_back_whole() -> None:
    body = "Hello,\n\nplease refund my last invoice.\n\nAlice"
    assert customer_text(body) == body


def test_r5_a_sentence_starting_with_a_sign_off_word_is_not_a_signature() -> None:
    body = (
        "Hello,\nBest regards from Berlin! I want a refund of 10 EUR because the service was down "
        "for two whole days.\n"
    )
    assert "refund of 10 EUR" not in library_only(body)
    assert "refund of 10 EUR" in customer_text(body)


def test_r5_a_real_signature_still_goes() -> None:
    body = "Please refund 10 EUR.\n\nBest regards\nBob Smith\nACME Ltd\n+1 555 1234\n"
    assert customer_text(body) == "Please refund 10 EUR."
