"""Alerts are raised once per deadline and level, whoever runs the scan how often; each send is
recorded; a broker outage leaves notifications pending for the next scan; one digest a day."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from factories import agent, kolkata, make_user, manager

from januscaler_refunds.billing.models import Customer, Invoice, PolicyVersion
from januscaler_refunds.deadlines import services, tasks
from januscaler_refunds.deadlines.models import Alert, AlertNotification, DigestRun
from januscaler_refunds.refunds import services as refund_services
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db

D = dt.date


def alert_mail() -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if "X-Januscaler-Alert" in m.extra_headers]


def test_crossing_into_near_alerts_once_however_often_the_scan_runs(received_on, scan_on, settings) -> None:
    request = received_on(D(2026, 2, 2))  # due Monday 16 February, unassigned
    scan_on(D(2026, 2, 11))
    assert not Alert.objects.exists()
    scan_on(D(2026, 2, 12))
    scan_on(D(2026, 2, 12))
    scan_on(D(2026, 2, 13))  # still near, same deadline: no new alert
    alert = Alert.objects.get()
    assert (alert.request, alert.kind, alert.level) == (request, "review", "near")
    assert list(alert.notifications.values_list("recipient", "status")) == [(settings.BILLING_QUEUE_EMAIL, "sent")]
    [email] = alert_mail()
    assert email.to == [settings.BILLING_QUEUE_EMAIL]
    assert request.reference in email.subject and "near" in email.subject


def test_overdue_goes_to_the_assignee_and_every_active_manager(received_on, scan_on) -> None:
    owner = agent("asha")
    owner.email = "asha@januscaler.com"
    owner.save()
    boss = manager("meera")
    boss.email = "meera@januscaler.com"
    boss.save()
    retired = manager("old")
    retired.email, retired.is_active = "old@januscaler.com", False
    retired.save()
    request = received_on(D(2026, 2, 2))
    refund_services.refund_request_start_review(request=request, actor=owner)
    scan_on(D(2026, 2, 12))
    scan_on(D(2026, 2, 17))
    recipients = {
        level: sorted(AlertNotification.objects.filter(alert__level=level).values_list("recipient", flat=True))
        for level in ("near", "overdue")
    }
    assert recipients == {
        "near": ["asha@januscaler.com"],
        "overdue": ["asha@januscaler.com", "meera@januscaler.com"],
    }
    assert len(alert_mail()) == 3


def test_send_task_delivered_twice_sends_once(received_on, scan_on) -> None:
    received_on(D(2026, 2, 2))
    scan_on(D(2026, 2, 12))
    notification = AlertNotification.objects.get()
    assert tasks.send_alert_notification.apply(args=(notification.pk,)).get() == "already sent"
    assert len(alert_mail()) == 1


def test_a_failed_send_is_recorded_and_retried_with_backoff(received_on, scan_on, settings) -> None:
    received_on(D(2026, 2, 2))
    with mock.patch.object(tasks.send_alert_notification, "apply_async"):
        scan_on(D(2026, 2, 12))
    notification = AlertNotification.objects.get()
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("SMTP down")):
        with mock.patch.object(tasks.send_alert_notification, "retry", side_effect=RuntimeError("retry")) as retry:
            with pytest.raises(RuntimeError):
                tasks.send_alert_notification.apply(args=(notification.pk,))
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.error) == ("pending", 1, "SMTP down")
    assert retry.call_args.kwargs["countdown"] == 30
    cap = settings.CELERY_RETRY_COUNTDOWN_MAX  # below the visibility timeout (docs/operations.md)
    assert [tasks.backoff(n) for n in (1, 2, 3, 8, 12)] == [30, 60, 120, min(3840, cap), min(61440, cap)]


def test_with_the_broker_down_alerts_stay_pending_and_the_next_scan_sends_them(received_on, scan_on) -> None:
    received_on(D(2026, 2, 2))
    with mock.patch.object(tasks.send_alert_notification, "apply_async", side_effect=OSError("refused")):
        scan_on(D(2026, 2, 12))  # does not raise
    notification = AlertNotification.objects.get()
    assert (notification.status, notification.enqueued_at) == ("pending", None)
    assert alert_mail() == []
    scan_on(D(2026, 2, 12), hour=13)  # later: the sweep queues what the broker never took
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.enqueued_at is not None
    assert len(alert_mail()) == 1


def test_raise_alert_is_for_other_apps_and_returns_none_the_second_time() -> None:
    due = kolkata(2026, 2, 20, 23, 59)
    kwargs = dict(subject_type="dispute", subject_id=42, kind="evidence", level="near", due_at=due,
                  recipients=["Disputes@januscaler.com", "disputes@januscaler.com"],
                  subject="Evidence for dispute 42 due Fri", body="Send the evidence.\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        alert = services.raise_alert(**kwargs)
        assert alert is not None and alert.request is None
        assert services.raise_alert(**kwargs) is None
        assert services.raise_alert(**{**kwargs, "level": "overdue"}) is not None
    assert [m.subject for m in alert_mail()] == ["Evidence for dispute 42 due Fri"] * 2
    assert AlertNotification.objects.filter(recipient="disputes@januscaler.com").count() == 2
    with pytest.raises(services.AlertRefused):
        services.raise_alert(**{**kwargs, "kind": "lunch"})


def test_the_digest_goes_out_once_a_day(received_on, scan_on) -> None:
    boss = make_user("meera", "Billing manager", email="meera@januscaler.com")
    near = received_on(D(2026, 2, 2))
    overdue = received_on(D(2026, 1, 19))
    scan_on(D(2026, 2, 12))
    mail.outbox.clear()
    with time_machine.travel(kolkata(2026, 2, 12, 9), tick=False):
        first = tasks.send_manager_digest.apply().get()
        second = tasks.send_manager_digest.apply().get()
    assert first.startswith("sent to 1 managers: 1 near, 1 overdue") and second == "already sent"
    [digest] = mail.outbox
    assert digest.to == [boss.email]
    assert near.reference in digest.body and overdue.reference in digest.body
    assert DigestRun.objects.get().day == D(2026, 2, 12)


def test_the_digest_rates_deadlines_when_it_is_written_not_from_stale_columns(received_on) -> None:
    """No scan ran since the ratings were stored: the digest still lists what is near or overdue today."""
    make_user("meera", "Billing manager", email="meera@januscaler.com")
    near = received_on(D(2026, 2, 2))
    overdue = received_on(D(2026, 1, 19))
    fine = received_on(D(2026, 2, 11))
    RefundRequest.objects.filter(pk=near.pk).update(review_deadline_status="ok")
    RefundRequest.objects.filter(pk=overdue.pk).update(review_deadline_status="")
    RefundRequest.objects.filter(pk=fine.pk).update(review_deadline_status="overdue")
    mail.outbox.clear()
    with time_machine.travel(kolkata(2026, 2, 12, 9), tick=False):
        result = tasks.send_manager_digest.apply().get()
    assert result.startswith("sent to 1 managers: 1 near, 1 overdue"), result
    [digest] = mail.outbox
    assert near.reference in digest.body and overdue.reference in digest.body
    assert fine.reference not in digest.body
    assert f"{overdue.reference}  review overdue" in digest.body and "business days overdue" in digest.body


def test_each_new_alert_is_notified_once_and_a_rescan_adds_none(received_on, scan_on) -> None:
    boss = make_user("meera", "Billing manager", email="meera@januscaler.com")
    late = received_on(D(2026, 1, 19))
    with mock.patch.object(tasks.send_alert_notification, "apply_async") as sent:
        first = scan_on(D(2026, 2, 12))
        # The rating is reset behind the scan's back: the next scan rates the row again and tries
        # to alert again; the unique constraint refuses the alert, so no notification is added.
        RefundRequest.objects.filter(pk=late.pk).update(review_deadline_status="")
        again = scan_on(D(2026, 2, 12))
    assert first.alerts == 1 and again.alerts == 0 and again.notifications == 0
    assert sorted(AlertNotification.objects.values_list("recipient", flat=True)) == sorted(
        [settings.BILLING_QUEUE_EMAIL if not late.assignee_id else late.assignee.email, boss.email])
    assert sent.call_count == 2


def _bulk_requests(n: int) -> None:
    version = PolicyVersion.objects.first()
    customer = Customer.objects.create(email=f"bulk{n}@example.com", name="Bulk")
    invoice = Invoice.objects.create(number=f"INV-BULK-{n}", customer=customer, issued_on=D(2026, 2, 1),
                                     kind="initial", payment_method="card", currency="USD", amount_paid=100)
    received = kolkata(2026, 2, 2)
    RefundRequest.objects.bulk_create(
        RefundRequest(
            reference=f"B{n}-{i}", customer=customer, invoice=invoice, requester_email=customer.email,
            reason="other", received_at=received, currency="USD", policy_version=version,
            review_due_at=kolkata(2026, 2, 10, 23, 59) + dt.timedelta(days=i % 20),
        )
        for i in range(n)
    )


@pytest.mark.parametrize("n", [10, 1000])
def test_the_scan_runs_a_fixed_number_of_queries(n: int, scan_on, django_assert_max_num_queries) -> None:
    _bulk_requests(n)
    with mock.patch.object(tasks.send_alert_notification, "apply_async"):
        with CaptureQueriesContext(connection) as queries:
            scan_on(D(2026, 2, 12))
        # The second scan of the same moment changes nothing and finds nothing new.
        with CaptureQueriesContext(connection) as again:
            scan_on(D(2026, 2, 12))
    assert Alert.objects.count() == RefundRequest.objects.filter(review_deadline_status__in=["near", "overdue"]).count() > 0
    QUERY_COUNTS.setdefault("first", set()).add(len(queries))
    QUERY_COUNTS.setdefault("again", set()).add(len(again))
    if n == 1000:
        assert len(QUERY_COUNTS["first"]) == 1, QUERY_COUNTS
        assert len(QUERY_COUNTS["again"]) == 1, QUERY_COUNTS


QUERY_COUNTS: dict[str, set[int]] = {}
