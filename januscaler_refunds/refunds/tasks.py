"""Celery tasks of the refunds app. Each takes primary keys and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from januscaler_refunds.refunds.models import CustomerMessage
from januscaler_refunds.refunds.notifications import new_message_id

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
    """Send one customer message and mark it sent; safe to run twice, even at the same time.

    The row is locked (``skip_locked``: a second delivery running now returns at once) for the SMTP
    exchange, and marked sent in the same transaction right after the server accepts the message,
    before the SMTP connection is closed: the only window in which a crash leads to a re-send is
    the UPDATE and COMMIT after the server's "250 OK" (docs/operations.md). A re-send carries the
    Message-ID fixed when the row was created.
    """
    message = CustomerMessage.objects.select_related("request").get(pk=message_id)
    if message.status == CustomerMessage.Status.SENT:
        return "already sent"
    # Count the attempt first, outside the send's transaction, so a crash mid-send still shows.
    CustomerMessage.objects.filter(pk=message_id).update(attempts=F("attempts") + 1)
    if not message.message_id:
        # Rows made before Message-IDs were fixed at creation: the first to set one wins.
        CustomerMessage.objects.filter(pk=message_id, message_id="").update(
            message_id=new_message_id(reference=message.request.reference)
        )
    connection = get_connection()
    try:
        with transaction.atomic():
            locked = (
                CustomerMessage.objects.select_for_update(skip_locked=True)
                .filter(pk=message_id)
                .exclude(status=CustomerMessage.Status.SENT)
                .first()
            )
            if locked is None:
                return "already sent or being sent"
            email = EmailMessage(
                subject=locked.subject,
                body=locked.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[locked.to_email],
                reply_to=[settings.BILLING_QUEUE_EMAIL],
                headers={"X-Januscaler-Refund": message.request.reference, "Message-ID": f"<{locked.message_id}>"},
                connection=connection,
            )
            connection.open()
            email.send()
            CustomerMessage.objects.filter(pk=message_id).update(
                status=CustomerMessage.Status.SENT, sent_at=timezone.now(), last_error=""
            )
    except OSError as exc:
        CustomerMessage.objects.filter(pk=message_id).update(last_error=str(exc)[:2000])
        if self.request.retries >= self.max_retries:
            CustomerMessage.objects.filter(pk=message_id).update(status=CustomerMessage.Status.FAILED)
        raise
    finally:
        connection.close()
    # Kind, id and reference only: bodies stay out of the log (they hold customers' words).
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
