"""Writes of the deadlines app: raising alerts, queueing their notifications, the daily digest.

Everything sent outside the database is queued with ``transaction.on_commit`` and the queueing
never fails the caller: when the broker is down the notification stays pending with no
``enqueued_at`` and the next deadline scan queues it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.deadlines.models import Alert, AlertNotification, DigestRun
from januscaler_refunds.deadlines.selectors import (
    flagged_q,
    flagged_requests,
    stranded_notifications,
)
from januscaler_refunds.policy.calendar import local_date
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.roles import MANAGER

log = logging.getLogger(__name__)

DIGEST_MAX_LINES = 500


class AlertRefused(ValueError):
    """raise_alert was called with values the alert model does not accept."""


# --- queueing --------------------------------------------------------------------------------


def stranded_notification_ids(*, now: dt.datetime, exclude: Iterable[int] = ()) -> list[int]:
    skip = set(exclude)
    return [i for i in stranded_notifications(now=now).values_list("id", flat=True) if i not in skip]


def enqueue_notifications(ids: Sequence[int]) -> int:
    """Hand the send tasks to the broker; returns how many it took.

    Runs after commit. A broker error is logged, not raised: the web request or task that caused
    the alert has committed and must not fail now; the rows stay pending and a later scan retries.
    """
    from januscaler_refunds.deadlines.tasks import send_alert_notification

    taken: list[int] = []
    for notification_id in ids:
        try:
            send_alert_notification.apply_async(
                (notification_id,), retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
            )
        except Exception as exc:  # noqa: BLE001 - any broker failure: keep the row pending for the sweep
            left = [i for i in ids if i not in set(taken)]
            log.warning("broker unavailable, %d alert notifications left pending: %s", len(left), exc)
            AlertNotification.objects.filter(id__in=left).update(error=f"not queued: {exc}"[:2000])
            break
        taken.append(notification_id)
    if taken:
        AlertNotification.objects.filter(id__in=taken).update(enqueued_at=timezone.now())
    return len(taken)


# --- alerts -------------------------------------------------------------------------------------


def raise_alert(
    *,
    subject_type: str,
    subject_id: int,
    kind: str,
    level: str,
    due_at: dt.datetime,
    recipients: Iterable[str],
    subject: str,
    body: str,
    request: RefundRequest | None = None,
) -> Alert | None:
    """Raise one alert and email it to ``recipients`` after commit; None if it was raised before.

    The unique constraint on (subject_type, subject_id, kind, level, due_at) decides, so two
    callers racing on the same deadline get one alert between them. For dispute evidence::

        raise_alert(subject_type="dispute", subject_id=dispute.pk, kind="evidence", level="near",
                    due_at=dispute.evidence_due_at, recipients=[...], subject=..., body=...)
    """
    if subject_type not in Alert.SubjectType.values:
        raise AlertRefused(f"subject_type must be one of {Alert.SubjectType.values}, got {subject_type!r}")
    if kind not in Alert.Kind.values:
        raise AlertRefused(f"kind must be one of {Alert.Kind.values}, got {kind!r}")
    if level not in Alert.Level.values:
        raise AlertRefused(f"level must be one of {Alert.Level.values}, got {level!r}")
    if timezone.is_naive(due_at):
        raise AlertRefused("due_at must carry a time zone")
    addresses = sorted({address.strip().lower() for address in recipients if address and address.strip()})
    if not addresses:
        raise AlertRefused("an alert needs at least one recipient")
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        Alert.objects.bulk_create(
            [
                Alert(
                    subject_type=subject_type,
                    subject_id=subject_id,
                    request=request,
                    kind=kind,
                    level=level,
                    due_at=due_at,
                    created_at=now,
                    token=token,
                    subject=subject[:255],
                    body=body,
                )
            ],
            ignore_conflicts=True,
        )
        # ignore_conflicts gives no primary key back: the token says whether our insert won.
        alert = Alert.objects.filter(token=token).first()
        if alert is None:
            return None
        AlertNotification.objects.bulk_create(
            [AlertNotification(alert=alert, recipient=address, created_at=now) for address in addresses],
            ignore_conflicts=True,
        )
        ids = list(alert.notifications.values_list("id", flat=True))
        transaction.on_commit(lambda: enqueue_notifications(ids))
    return alert


def render_alert_email(notification: AlertNotification) -> tuple[str, str]:
    """(subject, body): the caller's text for raise_alert alerts, the template for the scan's."""
    alert = notification.alert
    if alert.subject and alert.body:
        return alert.subject, alert.body
    request = alert.request
    text = render_to_string(
        f"emails/alert_{alert.level}.txt",
        {
            "alert": alert,
            "request": request,
            "due_on": local_date(alert.due_at),
            "days_left": request.business_days_left if request else None,
            "site_url": settings.SITE_URL,
        },
    ).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


# --- digest --------------------------------------------------------------------------------------


def manager_emails() -> list[str]:
    users = get_user_model().objects.filter(groups__name=MANAGER, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def digest_run_for(day: dt.date) -> DigestRun:
    """The day's digest row, created once whatever the number of callers."""
    try:
        with transaction.atomic():
            run, _ = DigestRun.objects.get_or_create(day=day, defaults={"created_at": timezone.now()})
    except IntegrityError:  # another caller created it between our read and our insert
        run = DigestRun.objects.get(day=day)
    return run


def render_digest(day: dt.date, clock: readtime.DeadlineClock | None = None) -> tuple[str, str, int, int]:
    """(subject, body, near, overdue) of the managers' digest for ``day``: every deadline rated when
    the digest is written (deadlines/readtime.py), like the queue and the cards, never from the
    scan's stored ratings (which may be stale right after an import, a transition or a start-up)."""
    clock = clock or readtime.deadline_clock()
    flagged = flagged_requests(clock)
    counts = readtime.count_each({
        "total": RefundRequest.objects.filter(flagged_q(clock)),
        "overdue": RefundRequest.objects.filter(flagged_q(clock, statuses=(readtime.OVERDUE,))),
    })
    rows = list(flagged[:DIGEST_MAX_LINES])
    for row in rows:
        row.rating = clock.rate_request(row)  # type: ignore[attr-defined]
    text = render_to_string(
        "emails/digest.txt",
        {
            "day": day,
            "requests": rows,
            "near": counts["total"] - counts["overdue"],
            "overdue": counts["overdue"],
            "more": counts["total"] - len(rows),
            "site_url": settings.SITE_URL,
        },
    ).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n", counts["total"] - counts["overdue"], counts["overdue"]
