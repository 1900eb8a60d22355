"""Every outgoing customer message carries a Message-ID fixed when its row is created."""

from __future__ import annotations

import pytest
from django.core import mail
from factories import make_request

from januscaler_refunds.refunds.models import CustomerMessage
from januscaler_refunds.refunds.tasks import send_customer_message

pytestmark = pytest.mark.django_db


def test_the_message_id_is_fixed_when_the_row_is_created_not_when_it_is_sent() -> None:
    message = CustomerMessage.objects.get(request=make_request(), kind="acknowledgement")
    assert message.status == CustomerMessage.Status.QUEUED
    assert message.message_id.endswith("@januscaler.com")
    assert "<" not in message.message_id


def test_a_re_send_after_a_lost_mark_carries_the_same_message_id() -> None:
    message = CustomerMessage.objects.get(request=make_request(), kind="acknowledgement")
    send_customer_message.apply(args=[message.pk])
    # As if the worker died between the server's "250 OK" and the mark: the sweep sends again.
    CustomerMessage.objects.filter(pk=message.pk).update(status=CustomerMessage.Status.QUEUED, sent_at=None)
    send_customer_message.apply(args=[message.pk])
    assert len(mail.outbox) == 2
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == {f"<{message.message_id}>"}


def test_a_row_without_a_message_id_gets_one_that_later_sends_keep() -> None:
    message = CustomerMessage.objects.get(request=make_request(), kind="acknowledgement")
    CustomerMessage.objects.filter(pk=message.pk).update(message_id="")
    send_customer_message.apply(args=[message.pk])
    message.refresh_from_db()
    assert message.message_id and message.status == CustomerMessage.Status.SENT
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{message.message_id}>"
