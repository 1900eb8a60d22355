"""The triage desk in headless Chromium, as an agent: every triage action, clicked.

Messages arrive through the real intake (``ingest_raw_message``), land in triage for three different
reasons, and the agent resolves each from the desk: one-click attach to the matched request, create a
request from the message (its PDF becomes a document), discard with a note. Screenshots of the list
and of each desk go to var/artifacts (not committed).
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import factories
import pytest
from browser.conftest import login
from django.utils import timezone

from januscaler_refunds.intake import services as intake
from januscaler_refunds.intake.models import TriageItem
from januscaler_refunds.intake.triage import REASON_HELP
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _mail(subject: str, sender: str, body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "billing@januscaler.com", subject
    msg["Message-ID"] = f"<{abs(hash((subject, body)))}@customer.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def _ingest(raw: bytes) -> intake.IngestResult:
    return intake.ingest_raw_message(raw, location="browser-test", now=timezone.now())


def _item(result: intake.IngestResult) -> TriageItem:
    assert result.outcome == "triage", result.detail
    return TriageItem.objects.get(message=result.message)


def test_an_agent_works_every_triage_action_from_the_desk(page: Any, artifacts_dir: Path) -> None:
    factories.agent("ann")
    # 1. A reply on a request that was withdrawn meanwhile: triage, matched to that request.
    invoice = factories.invoice_with_plan()
    first = _ingest(_mail(f"Refund Request: {invoice.number}", invoice.customer.email,
                          "Please refund me under the 7-day money-back guarantee."))
    closed = first.request
    services.refund_request_withdraw(request=closed, actor=None)
    reply = _item(_ingest(_mail(f"Re: Refund Request: {invoice.number}", invoice.customer.email,
                                "Sorry, I withdrew by mistake. Please look at it again.",
                                In_Reply_To=f"<{closed.thread_message_id}>")))
    assert reply.reason == "reply_to_closed"
    # 2. No invoice number in the subject, with a PDF: the agent creates the request.
    other = factories.invoice_with_plan()
    raw = EmailMessage()
    raw["From"], raw["To"], raw["Subject"] = other.customer.email, "billing@januscaler.com", "Money back please"
    raw["Message-ID"] = "<no-number@customer.example>"
    raw.set_content(f"Hi, I cancelled within 7 days. My invoice is {other.number}. Please refund.")
    raw.add_attachment(PDF, maintype="application", subtype="pdf", filename="receipt.pdf")
    loose = _item(_ingest(raw.as_bytes()))
    assert loose.reason == "no_invoice_number"
    # 3. An out-of-office reply: the agent discards it with a note.
    auto = _item(_ingest(_mail("Automatic reply: Refund Request", "someone@example.org",
                               "I am out of the office until Monday.", Auto_Submitted="auto-replied")))
    assert auto.reason == "automated"

    login(page, "ann")
    page.goto("/admin/intake/triageitem/")
    for reason in ("reply_to_closed", "no_invoice_number", "automated"):
        assert REASON_HELP[reason].what in page.inner_text("#result_list")
    page.screenshot(path=str(artifacts_dir / "triage_list.png"), full_page=True)

    # One-click attach to the matched request.
    page.goto(f"/admin/intake/triageitem/{reply.pk}/change/")
    assert REASON_HELP["reply_to_closed"].todo in page.inner_text("#triage-todo")
    assert "withdrew by mistake" in page.inner_text("#triage-customer-words")
    page.screenshot(path=str(artifacts_dir / "triage_desk_attach.png"), full_page=True)
    page.click(f"#attach-matched button:has-text('Attach to {closed.reference}')")
    page.wait_for_url("**/admin/intake/triageitem/")
    assert f"Attached to {closed.reference}" in page.inner_text("body")
    reply.refresh_from_db()
    assert (reply.status, reply.request_id, reply.resolved_by.username) == ("attached", closed.pk, "ann")
    assert CustomerMessage.objects.filter(request=closed, direction="in", body__contains="withdrew").exists()

    # Create a request from the message, its PDF as a document.
    page.goto(f"/admin/intake/triageitem/{loose.pk}/change/")
    assert page.locator("#triage-attachments").inner_text().startswith("receipt.pdf")
    assert page.locator("#attach-matched").count() == 0  # nothing to match: no invoice in the subject
    page.fill("#create-request input[name=invoice_number]", other.number)
    assert page.input_value("#create-request select[name=reason]") == "money_back_guarantee"
    page.screenshot(path=str(artifacts_dir / "triage_desk_create.png"), full_page=True)
    page.click("#create-request button:has-text('Create request')")
    page.wait_for_url("**/admin/intake/triageitem/")
    loose.refresh_from_db()
    created = RefundRequest.objects.get(pk=loose.request_id)
    assert (loose.status, created.invoice_id, created.reason) == ("attached", other.pk, "money_back_guarantee")
    assert list(created.documents.values_list("name", flat=True)) == ["receipt.pdf"]

    # Discard with a note.
    page.goto(f"/admin/intake/triageitem/{auto.pk}/change/")
    assert REASON_HELP["automated"].what in page.inner_text("#triage-what")
    page.fill("#discard textarea[name=note]", "Out-of-office reply, nothing to do.")
    page.screenshot(path=str(artifacts_dir / "triage_desk_discard.png"), full_page=True)
    page.click("#discard button:has-text('Discard with this note')")
    page.wait_for_url("**/admin/intake/triageitem/")
    auto.refresh_from_db()
    assert (auto.status, auto.note) == ("discarded", "Out-of-office reply, nothing to do.")

    # Nothing is left open, and a resolved item says what happened instead of offering actions.
    assert not TriageItem.objects.filter(status="open").exists()
    page.goto(f"/admin/intake/triageitem/{auto.pk}/change/")
    assert "Discarded" in page.inner_text("#triage-resolved")
    assert page.locator("#discard").count() == 0
    page.screenshot(path=str(artifacts_dir / "triage_desk_resolved.png"), full_page=True)


def test_a_discard_without_a_note_is_refused_and_the_item_stays_open(page: Any, artifacts_dir: Path) -> None:
    factories.agent("bob")
    item = _item(_ingest(_mail("Hello", "someone@example.org", "Just saying hi.")))
    login(page, "bob")
    page.goto(f"/admin/intake/triageitem/{item.pk}/change/")
    page.fill("#discard textarea[name=note]", "   ")
    page.click("#discard button:has-text('Discard with this note')")
    page.wait_for_selector("text=Say why the message is discarded.")
    page.screenshot(path=str(artifacts_dir / "triage_discard_refused.png"), full_page=True)
    item.refresh_from_db()
    assert item.status == "open"
