"""POST /intake/inbound/: a mail relay hands over one raw message, authenticated by a shared secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from factories import invoice_with_plan

from januscaler_refunds.intake.models import InboundMessage

pytestmark = pytest.mark.django_db
URL = "/intake/inbound/"


def _raw(number: str, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: billing@januscaler.com\r\nSubject: Refund Request: {number}\r\n"
        "Message-ID: <hook-1@client.example>\r\nDate: Wed, 06 May 2026 10:00:00 +0530\r\n\r\n"
        "Please refund me under the money-back guarantee.\r\n"
    ).encode()


def test_a_signed_post_is_ingested_and_answered_with_202_and_the_outcome(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_WEBHOOK_SECRET = "hook-secret"
    invoice = invoice_with_plan()
    body = _raw(invoice.number, invoice.customer.email)
    signature = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    response = client.post(URL, body, content_type="message/rfc822", HTTP_X_INTAKE_SIGNATURE=signature)
    assert response.status_code == 202
    assert response.json()["outcome"] == "request"
    assert response.json()["request"].startswith("RR-")
    again = client.post(URL, body, content_type="message/rfc822", HTTP_X_INTAKE_TOKEN="hook-secret")
    assert again.status_code == 202 and again.json()["outcome"] == "duplicate"
    assert InboundMessage.objects.get().source == "webhook"


def test_the_webhook_refuses_without_a_configured_secret(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_WEBHOOK_SECRET = ""
    response = client.post(URL, b"Subject: x\r\n\r\n", content_type="message/rfc822", HTTP_X_INTAKE_TOKEN="")
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_INTAKE_TOKEN": "wrong"}, {"HTTP_X_INTAKE_SIGNATURE": "sha256=00"}])
def test_the_webhook_refuses_a_wrong_or_missing_secret(client, settings, headers) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_WEBHOOK_SECRET = "hook-secret"
    response = client.post(URL, b"Subject: x\r\n\r\n", content_type="message/rfc822", **headers)
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_the_webhook_wants_a_raw_message_by_post(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_WEBHOOK_SECRET = "hook-secret"
    assert client.get(URL).status_code == 405
    response = client.post(URL, {"a": "b"}, HTTP_X_INTAKE_TOKEN="hook-secret")
    assert response.status_code == 415
