"""Reads for alerts and the digest."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from januscaler_refunds.deadlines.models import AlertNotification
from januscaler_refunds.refunds.models import OPEN_STATES, DeadlineStatus, RefundRequest, State

# A notification handed to the broker this long ago and still pending was lost (a Redis restart
# without persistence): above the longest retry countdown (1 h) and the visibility timeout (2 h).
REENQUEUE_AFTER = dt.timedelta(hours=3)
# A notification created this recently is being enqueued by whoever created it (on commit).
ENQUEUE_GRACE = dt.timedelta(minutes=2)

FLAGGED = (DeadlineStatus.NEAR, DeadlineStatus.OVERDUE)


def stranded_notifications(*, now: dt.datetime) -> QuerySet[AlertNotification]:
    """Pending notifications the broker refused, never got, or took and lost (the sweep)."""
    return AlertNotification.objects.filter(status=AlertNotification.Status.PENDING).filter(
        Q(enqueued_at__isnull=True, created_at__lt=now - ENQUEUE_GRACE)
        | (Q(enqueued_at__isnull=True) & ~Q(error=""))  # the broker refused it
        | Q(enqueued_at__lt=now - REENQUEUE_AFTER)
    )


def flagged_requests() -> QuerySet[RefundRequest]:
    """Open requests whose review deadline, and approved ones whose payout deadline, is near or overdue."""
    return (
        RefundRequest.objects.filter(
            Q(state__in=OPEN_STATES, review_deadline_status__in=FLAGGED)
            | Q(state=State.APPROVED, payout_deadline_status__in=FLAGGED)
        )
        .select_related("assignee")
        .order_by("business_days_left", "id")
    )
