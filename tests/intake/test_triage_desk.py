"""The triage desk's words and matching, without a browser (the clicks are in tests/browser)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.utils import timezone
from factories import agent, invoice_with_plan, make_user

from januscaler_refunds.intake import services as intake
from januscaler_refunds.intake.models import TriageItem
from januscaler_refunds.intake.triage import (
    REASON_HELP,
    triage_attach_to_request,
    triage_matched_request,
)
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def test_every_triage_reason_is_explained_in_words() -> None:
    assert set(REASON_HELP) == set(TriageItem.Reason.values)
    for help_ in REASON_HELP.values():
        assert help_.what.endswith(".") and help_.todo.endswith(".")


def _reply_on_withdrawn_request() -> tuple[TriageItem, object]:
    invoice = invoice_with_plan()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = invoice.customer.email, "billing@x", f"Refund Request: {invoice.number}"
    msg["Message-ID"] = "<first@c.example>"
    msg.set_content("Please refund me under the 7-day money-back guarantee.")
    request = intake.ingest_raw_message(msg.as_bytes(), location="t", now=timezone.now()).request
    services.refund_request_withdraw(request=request, actor=None)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = invoice.customer.email, "billing@x", f"Re: {msg['Subject']}"
    reply["Message-ID"], reply["In-Reply-To"] = "<second@c.example>", "<first@c.example>"
    reply.set_content("I withdrew by mistake.")
    result = intake.ingest_raw_message(reply.as_bytes(), location="t", now=timezone.now())
    return TriageItem.objects.get(message=result.message), request


def test_a_reply_on_a_closed_request_is_matched_to_it_and_attached_once() -> None:
    item, request = _reply_on_withdrawn_request()
    assert item.reason == "reply_to_closed"
    assert triage_matched_request(item) == request
    ann = agent("ann")
    done = triage_attach_to_request(item=item, request=request, actor=ann)  # type: ignore[arg-type]
    assert (done.status, done.request, done.resolved_by) == ("attached", request, ann)
    with pytest.raises(TransitionRefused, match="already attached"):
        triage_attach_to_request(item=item, request=request, actor=ann)  # type: ignore[arg-type]


def test_attaching_needs_the_triage_permission() -> None:
    item, request = _reply_on_withdrawn_request()
    with pytest.raises(TransitionRefused, match="permission"):
        triage_attach_to_request(item=item, request=request, actor=make_user("nobody"))  # type: ignore[arg-type]
    item.refresh_from_db()
    assert item.status == "open"
