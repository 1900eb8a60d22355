"""Celery tasks of the refunds app. Each takes primary keys and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from januscaler_refunds.refunds.models import CustomerMessage

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=settings.CELERY_RETRY_COUNTDOWN_MAX,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
def send_customer_message(self, message_id: int) -> str:  # type: ignore[no-untyped-def]
    message = CustomerMessage.objects.select_related("request").get(pk=message_id)
    if message.status == CustomerMessage.Status.SENT:
        return "already sent"
    # Count the attempt first so a crash mid-send still shows in the console.
    CustomerMessage.objects.filter(pk=message_id).update(attempts=message.attempts + 1)
    if not message.message_id:
        # A stable Message-ID lets intake thread the customer's reply by In-Reply-To; a retry
        # reuses the same one.
        domain = settings.BILLING_QUEUE_EMAIL.rpartition("@")[2] or "januscaler.com"
        message.message_id = make_msgid(idstring=f"refund-{message.pk}", domain=domain).strip("<>")
        CustomerMessage.objects.filter(pk=message_id).update(message_id=message.message_id)
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to_email],
        reply_to=[settings.BILLING_QUEUE_EMAIL],
        headers={"X-Januscaler-Refund": message.request.reference, "Message-ID": f"<{message.message_id}>"},
    )
    try:
        email.send()
    except OSError as exc:
        CustomerMessage.objects.filter(pk=message_id).update(last_error=str(exc)[:2000])
        if self.request.retries >= self.max_retries:
            CustomerMessage.objects.filter(pk=message_id).update(status=CustomerMessage.Status.FAILED)
        raise
    # Compare-and-set: only the first successful attempt marks it sent.
    CustomerMessage.objects.filter(pk=message_id).exclude(status=CustomerMessage.Status.SENT).update(
        status=CustomerMessage.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    log.info("sent %s message %s for %s", message.kind, message_id, message.request.reference)
    return "sent"


@shared_task(acks_late=True)
def resend_queued_customer_messages(older_than_minutes: int = 10) -> int:
    """Re-enqueue messages still queued after a while (the broker was down when they were made).

    Safe to overlap with the original enqueue: sending is a compare-and-set on the status.
    """
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        CustomerMessage.objects.filter(status=CustomerMessage.Status.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in ids:
        send_customer_message.delay(pk)
    return len(ids)
