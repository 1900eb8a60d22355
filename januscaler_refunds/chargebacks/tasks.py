"""Celery tasks for chargebacks. Each takes primary keys (or nothing) and is safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from januscaler_refunds.chargebacks import selectors, webhooks
from januscaler_refunds.chargebacks.models import Dispute, WebhookDelivery, WebhookEvent
from januscaler_refunds.policy.calendar import end_of_day, local_date
from januscaler_refunds.refunds.evaluation import business_calendar

log = logging.getLogger(__name__)


def retry_countdown(retries: int) -> int:
    """30 s, 60 s, 120 s, ... capped below the broker's visibility timeout (CELERY_RETRY_COUNTDOWN_MAX)."""
    return int(min(30 * 2**retries, settings.CELERY_RETRY_COUNTDOWN_MAX))


@shared_task(bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, event_id: str) -> str:  # type: ignore[no-untyped-def]
    """POST one event to CHARGEBACK_WEBHOOK_URL; each attempt leaves a WebhookDelivery row."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None or event.delivered_at is not None or event.failed_at is not None:
        return "nothing to do"
    url = settings.CHARGEBACK_WEBHOOK_URL
    if not url:
        log.info("webhook %s %s not sent: CHARGEBACK_WEBHOOK_URL is empty", event.type, event.pk)
        return "not configured"
    attempt_no = WebhookDelivery.objects.filter(event=event).count() + 1
    started_at = timezone.now()
    result = webhooks.post(
        url,
        body=webhooks.encode_body(event.payload),
        secret=settings.CHARGEBACK_WEBHOOK_SECRET,
        event_type=event.type,
        delivery_id=str(event.pk),
        timeout=settings.CHARGEBACK_WEBHOOK_TIMEOUT_SECONDS,
    )
    WebhookDelivery.objects.create(
        event=event, attempt=attempt_no, url=url[:500], started_at=started_at, duration_ms=result.duration_ms,
        status_code=result.status_code, ok=result.ok, error=result.error, response_excerpt=result.excerpt[:500],
    )
    if result.ok:
        # Compare-and-set: the first successful attempt marks the event delivered.
        WebhookEvent.objects.filter(pk=event.pk, delivered_at__isnull=True).update(delivered_at=timezone.now())
        return "delivered"
    max_retries = settings.CHARGEBACK_WEBHOOK_MAX_RETRIES
    if result.retryable and self.request.retries < max_retries:
        log.warning("webhook %s attempt %s failed (%s); retrying", event.pk, attempt_no, result.error)
        raise self.retry(countdown=retry_countdown(self.request.retries), max_retries=max_retries)
    WebhookEvent.objects.filter(pk=event.pk, delivered_at__isnull=True).update(failed_at=timezone.now())
    log.error("webhook %s gave up after attempt %s: %s", event.pk, attempt_no, result.error)
    return "failed"


def _raise_alert() -> Callable[..., Any] | None:
    """The deadlines app's alert entry point, if it exists yet (it is built in parallel)."""
    try:
        from januscaler_refunds.deadlines.services import raise_alert  # type: ignore[attr-defined]
    except ImportError:
        return None
    return raise_alert  # type: ignore[no-any-return]


def _dispute_recipients() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    perm = Q(groups__permissions__codename="work_dispute", groups__permissions__content_type__app_label="chargebacks")
    return sorted(set(users.filter(perm | Q(is_superuser=True)).values_list("email", flat=True)))


@shared_task(acks_late=True)
def scan_evidence_due() -> str:
    """Alert once per level when an open dispute's evidence is near (or past) its due date."""
    raise_alert = _raise_alert()
    if raise_alert is None:
        log.warning("evidence-due scan skipped: januscaler_refunds.deadlines.services.raise_alert is missing")
        return "no alert service"
    now = timezone.now()
    near_days = settings.CHARGEBACK_EVIDENCE_NEAR_BUSINESS_DAYS
    until = end_of_day(business_calendar().add_business_days(local_date(now), near_days))
    recipients = _dispute_recipients()
    raised = 0
    for dispute in selectors.disputes_needing_evidence(until):
        level = Dispute.AlertLevel.OVERDUE if dispute.evidence_due_at < now else Dispute.AlertLevel.NEAR
        chargeback = dispute.chargeback
        with transaction.atomic():
            claimed = (
                Dispute.objects.filter(pk=dispute.pk, state="open").exclude(alert_level=level).update(alert_level=level)
            )
            if not claimed:
                continue  # already alerted at this level, or no longer open
            raise_alert(
                subject_type="dispute",
                subject_id=dispute.pk,
                kind="evidence",
                level=str(level),
                due_at=dispute.evidence_due_at,
                recipients=recipients,
                subject=f"Chargeback {chargeback.ref}: dispute evidence {'overdue' if level == 'overdue' else 'due soon'}",
                body=(
                    f"Evidence for chargeback {chargeback.ref} (invoice {chargeback.invoice.number}, "
                    f"{chargeback.invoice.customer.email}, {chargeback.amount:.2f} {chargeback.currency}) "
                    f"is due by the end of {dispute.evidence_due:%Y-%m-%d}."
                ),
            )
            raised += 1
    return f"{raised} alerts"
