"""Customer mail is stored, sent after commit, and never blocks an action when the broker is down."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from factories import make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import CustomerMessage
from januscaler_refunds.refunds.tasks import resend_queued_customer_messages, send_customer_message

pytestmark = pytest.mark.django_db


def test_the_acknowledgement_is_sent_after_commit_with_reference_and_deadline(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = make_request()
    message = CustomerMessage.objects.get(request=request, kind="acknowledgement")
    assert message.status == CustomerMessage.Status.SENT
    assert len(mail.outbox) == 1
    assert request.reference in mail.outbox[0].body
    assert f"{request.review_due_at:%Y}" in mail.outbox[0].body


def test_sending_twice_sends_once() -> None:
    request = make_request()
    message = CustomerMessage.objects.get(request=request, kind="acknowledgement")
    send_customer_message.apply(args=[message.pk])
    send_customer_message.apply(args=[message.pk])
    assert len(mail.outbox) == 1


def test_a_denial_names_reasons_with_sections(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    request = services.refund_request_start_review(request=make_request(), actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_request_deny(request=request, actor=None, codes=["window_expired"], message="Sorry.")
    body = mail.outbox[-1].body
    assert "section 3" in body
    assert "filing window" in body


def test_the_sweep_requeues_messages_left_queued() -> None:
    # Made an hour ago (customer messages are append-only, so the age is not written afterwards).
    with time_machine.travel(timezone.now() - dt.timedelta(hours=1), tick=False):
        request = make_request()
    assert resend_queued_customer_messages() == 1
    assert CustomerMessage.objects.get(request=request).status == CustomerMessage.Status.SENT


def test_outgoing_mail_carries_a_stored_message_id_for_threading() -> None:
    request = make_request()
    message = CustomerMessage.objects.get(request=request, kind="acknowledgement")
    send_customer_message.apply(args=[message.pk])
    message.refresh_from_db()
    assert message.message_id
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{message.message_id}>"
