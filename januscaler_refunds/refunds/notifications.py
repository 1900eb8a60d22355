"""Customer messages: rendered from templates/emails/, stored, then sent by Celery after commit."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from januscaler_refunds.policy.codes import REASON_CODES, Code
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest


def reasons_in_plain_words(codes: list[str]) -> list[dict[str, str]]:
    out = []
    for code in codes:
        # Codes are stored as plain strings; one the policy does not know is left out.
        if code not in REASON_CODES:
            continue
        info = REASON_CODES[Code(code)]
        out.append({"code": code, "section": info.section, "text": info.description})
    return out


def render_customer_message(*, request: RefundRequest, kind: str, context: dict[str, Any]) -> tuple[str, str]:
    """Return (subject, body). The template's first line is the subject."""
    ctx = {
        "request": request,
        "invoice": request.invoice,
        "customer": request.customer,
        "site_url": settings.SITE_URL,
        "reasons": reasons_in_plain_words(list(request.decision_codes or [])),
        **context,
    }
    text = render_to_string(f"emails/{kind}.txt", ctx).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


def new_message_id(*, reference: str) -> str:
    """A globally unique Message-ID (without angle brackets) in the billing queue's domain."""
    domain = settings.BILLING_QUEUE_EMAIL.rpartition("@")[2] or "januscaler.com"
    return make_msgid(idstring=reference or "refund", domain=domain).strip("<>")


def queue_customer_message(*, request: RefundRequest, kind: str, context: dict[str, Any]) -> CustomerMessage:
    subject, body = render_customer_message(request=request, kind=kind, context=context)
    message = CustomerMessage.objects.create(
        # Fixed now, with the row: every send and re-send carries it, so a customer (and intake's
        # threading of the reply) sees a re-send as the same message, never a new one.
        message_id=new_message_id(reference=request.reference),
        request=request,
        direction=CustomerMessage.Direction.OUTBOUND,
        kind=kind,
        to_email=request.requester_email,
        subject=subject,
        body=body,
        status=CustomerMessage.Status.QUEUED,
    )
    from januscaler_refunds.refunds.tasks import send_customer_message

    # Enqueue only once the change that caused the message is committed. robust=True: a broker
    # outage must not fail the agent's action; the message stays queued and the periodic
    # sweep (refunds.tasks.resend_queued_customer_messages) sends it when the broker is back.
    transaction.on_commit(lambda: send_customer_message.delay(message.pk), robust=True)
    return message
