"""Celery tasks of the deadlines app. Each is safe to run twice: a unique constraint or a row lock
with a compare-and-set decides, so acks_late redeliveries and doubled beats change nothing."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from januscaler_refunds.deadlines import scan, services
from januscaler_refunds.deadlines.models import AlertNotification, DigestRun
from januscaler_refunds.policy.calendar import local_date

log = logging.getLogger(__name__)

MAX_SEND_RETRIES = 8


def backoff(attempt: int) -> int:
    """30 s, 60 s, 120 s ... capped below the broker's visibility timeout (CELERY_RETRY_COUNTDOWN_MAX)."""
    return int(min(30 * 2 ** max(attempt - 1, 0), settings.CELERY_RETRY_COUNTDOWN_MAX))


@shared_task(acks_late=True)
def scan_deadlines() -> str:
    return str(scan.scan_deadlines())


@shared_task(bind=True, acks_late=True, max_retries=MAX_SEND_RETRIES)
def send_alert_notification(self, notification_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one alert email. The row lock makes a second delivery of the same task wait or skip;
    the status check after it makes a delivery that comes after a success do nothing."""
    with transaction.atomic():
        notification = (
            AlertNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert", "alert__request")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "locked by another delivery or deleted"
        if notification.status != AlertNotification.Status.PENDING:
            return f"already {notification.status}"
        subject, body = services.render_alert_email(notification)
        attempts = notification.attempts + 1
        error = ""
        try:
            EmailMessage(
                subject=subject,
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[notification.recipient],
                headers={"X-Januscaler-Alert": str(notification.alert_id)},
            ).send()
        except OSError as exc:
            error = str(exc)[:2000] or exc.__class__.__name__
        if not error:
            AlertNotification.objects.filter(pk=notification_id, status=AlertNotification.Status.PENDING).update(
                status=AlertNotification.Status.SENT, sent_at=timezone.now(), attempts=attempts, error=""
            )
            return "sent"
        gave_up = attempts > MAX_SEND_RETRIES
        AlertNotification.objects.filter(pk=notification_id).update(
            attempts=attempts,
            error=error,
            status=AlertNotification.Status.FAILED if gave_up else AlertNotification.Status.PENDING,
        )
    if gave_up:
        log.error("alert notification %s failed for good: %s", notification_id, error)
        return "failed"
    raise self.retry(countdown=backoff(attempts), max_retries=MAX_SEND_RETRIES + 1)


@shared_task(bind=True, acks_late=True, max_retries=MAX_SEND_RETRIES)
def send_manager_digest(self, day: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """The 09:00 IST digest of near and overdue requests: one DigestRun per day, sent once."""
    digest_day = dt.date.fromisoformat(day) if day else local_date(timezone.now())
    services.digest_run_for(digest_day)
    with transaction.atomic():
        run = DigestRun.objects.select_for_update(skip_locked=True).filter(day=digest_day).first()
        if run is None:
            return "locked by another delivery"
        if run.sent_at is not None:
            return "already sent"
        recipients = services.manager_emails()
        subject, body, near, overdue = services.render_digest(digest_day)
        error = ""
        if recipients:
            try:
                EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients).send()
            except OSError as exc:
                error = str(exc)[:2000] or exc.__class__.__name__
        DigestRun.objects.filter(pk=run.pk).update(
            attempts=run.attempts + 1,
            recipients=", ".join(recipients),
            near_count=near,
            overdue_count=overdue,
            error=error,
            sent_at=None if error else timezone.now(),
        )
    if error:
        raise self.retry(args=(digest_day.isoformat(),), countdown=backoff(run.attempts + 1))
    return f"sent to {len(recipients)} managers: {near} near, {overdue} overdue"
