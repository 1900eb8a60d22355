"""The requested amount a new request gets from an email, and the note when intake is unsure."""

from __future__ import annotations

from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from factories import invoice_with_plan, kolkata

from januscaler_refunds.intake import services as intake
from januscaler_refunds.refunds.models import InternalNote

pytestmark = pytest.mark.django_db

NOW = kolkata(2026, 5, 6, 12)
CORPUS = Path(__file__).resolve().parent / "corpus_languages"


def mail(subject: str, *, sender: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "billing@januscaler.com", subject
    msg["Message-ID"] = f"<{abs(hash((subject, body)))}@client.example>"
    msg.set_content(body)
    return msg.as_bytes()


def ingest(raw: bytes) -> intake.IngestResult:
    return intake.ingest_raw_message(raw, location="test", now=NOW)


def test_the_amount_next_to_refund_is_kept_not_a_count_before_it() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         body="You charged me 2x on 3.5.2026. Please refund $49.50."))
    assert result.request.requested_amount == Decimal("49.50")
    assert not InternalNote.objects.filter(request=result.request).exists()


def test_several_amounts_without_a_winner_leave_it_unset_with_a_note_for_the_agent() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         body="I paid $49 in April and $99 in May and barely used it."))
    assert result.outcome == "request"
    assert result.request.requested_amount is None
    note = InternalNote.objects.get(request=result.request)
    assert "Requested amount not set" in note.body and "49 USD" in note.body and "99 USD" in note.body
    assert note.author is None  # written by intake, not by an agent


def test_an_amount_in_another_currency_is_left_unset_with_a_note() -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    assert invoice.currency != "EUR"
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         body="Bitte erstatten Sie mir 1.234,56 €."))
    assert result.request.requested_amount is None
    body = InternalNote.objects.get(request=result.request).body
    assert "1234.56 EUR" in body and invoice.currency in body


def test_our_own_quoted_amount_never_becomes_the_request_amount() -> None:
    """The bug that started it: German Outlook quoted our "99,00 €" and it became the amount."""
    invoice = invoice_with_plan(Decimal("100.00"))
    raw = (CORPUS / "de_iphone.eml").read_bytes().replace(b"INV-2025-000143", invoice.number.encode())
    result = ingest(raw)
    assert result.outcome == "request"
    assert result.request.requested_amount is None
