"""Writes about the health of a polled IMAP mailbox: failures, back-off, alerts to managers.

A poll that fails is recorded on the mailbox's ``MailboxHealth`` row and the next attempt waits
twice as long as the last (from ``IMAP_POLL_SECONDS`` up to ``IMAP_MAX_BACKOFF_SECONDS``): a server
that is down is not hammered, and a refused login is not retried every two minutes until the
provider locks the account. Managers are emailed once per failing spell: at once when the mailbox
disappeared or the login is refused (nothing will fix itself), after ``IMAP_ALERT_AFTER_FAILURES``
failures in a row when the server is unreachable (a blip is not worth a page).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F

from januscaler_refunds.deadlines.services import manager_emails
from januscaler_refunds.intake.models import MailboxHealth

log = logging.getLogger(__name__)

Problem = MailboxHealth.Problem
ALERT_AT_ONCE = frozenset({Problem.MISSING_MAILBOX, Problem.LOGIN_REFUSED})


def mailbox_health_for(mailbox: str) -> MailboxHealth:
    health, _ = MailboxHealth.objects.get_or_create(mailbox=mailbox[:500])
    return health


def mailbox_may_poll(*, mailbox: str, now: dt.datetime) -> bool:
    """False while the mailbox is backing off after a failure."""
    due = MailboxHealth.objects.filter(mailbox=mailbox[:500]).values_list("next_attempt_at", flat=True)
    next_attempt = due.first()
    return next_attempt is None or next_attempt <= now


def backoff_seconds(failures: int) -> int:
    """Seconds to wait after ``failures`` failures in a row: the poll interval, doubled each time."""
    base = max(1, settings.IMAP_POLL_SECONDS)
    return int(min(base * 2 ** max(0, failures - 1), settings.IMAP_MAX_BACKOFF_SECONDS))


def mailbox_record_success(*, mailbox: str, now: dt.datetime) -> None:
    MailboxHealth.objects.update_or_create(
        mailbox=mailbox[:500],
        defaults={
            "problem": Problem.NONE,
            "detail": "",
            "consecutive_failures": 0,
            "failing_since": None,
            "next_attempt_at": None,
            "last_success_at": now,
            "alerted_at": None,
        },
    )


def mailbox_record_failure(
    *, mailbox: str, problem: str, detail: str, now: dt.datetime
) -> MailboxHealth:
    """Count the failure, set the back-off, and alert the managers when it is time (once)."""
    if problem not in Problem.values or problem == Problem.NONE:
        raise ValueError(f"problem must be one of {Problem.values[1:]}, got {problem!r}")
    with transaction.atomic():
        health = mailbox_health_for(mailbox)
        MailboxHealth.objects.filter(pk=health.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        health.refresh_from_db()
        health.problem = problem
        health.detail = detail[:2000]
        health.failing_since = health.failing_since or now
        health.next_attempt_at = now + dt.timedelta(
            seconds=backoff_seconds(health.consecutive_failures)
        )
        health.save(update_fields=["problem", "detail", "failing_since", "next_attempt_at"])
        due = problem in ALERT_AT_ONCE or (
            health.consecutive_failures >= settings.IMAP_ALERT_AFTER_FAILURES
        )
        # Compare-and-set: of two pollers failing at once, one claims the alert.
        if due and MailboxHealth.objects.filter(pk=health.pk, alerted_at=None).update(alerted_at=now):
            health.alerted_at = now
            transaction.on_commit(lambda: _send_alert(health.pk))
    log.warning("IMAP %s: %s (%s failures in a row): %s", mailbox, problem,
                health.consecutive_failures, detail)
    return health


def _send_alert(health_id: int) -> None:
    health = MailboxHealth.objects.get(pk=health_id)
    # Managers first; with none that has an address, the superusers, so the alert reaches someone.
    recipients = manager_emails() or sorted(
        set(
            get_user_model()
            .objects.filter(is_superuser=True, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        log.error("IMAP alert for %s: no manager or superuser has an email address", health.mailbox)
        return
    label = Problem(health.problem).label
    body = (
        f"Refund requests sent by email are not being read.\n\n"
        f"Mailbox: {health.mailbox}\n"
        f"Problem: {label}\n"
        f"Server said: {health.detail}\n"
        f"Failing since: {health.failing_since:%Y-%m-%d %H:%M %Z}, "
        f"{health.consecutive_failures} failed poll(s) in a row.\n"
        f"Next attempt: {health.next_attempt_at:%Y-%m-%d %H:%M %Z}.\n\n"
        "Fix the mailbox or the password in IMAP_URL; polling resumes by itself and the messages "
        "that arrived meanwhile are read then.\n"
    )
    try:
        EmailMessage(
            subject=f"Email intake stopped: {label} ({health.mailbox})",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
        ).send()
    except Exception:  # the alert must be retried by the next failing poll, not lost
        log.exception("could not email the IMAP alert for %s", health.mailbox)
        MailboxHealth.objects.filter(pk=health_id).update(alerted_at=None)
