"""Reads for alerts and the digest."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, F, Q, QuerySet, When

from januscaler_refunds.deadlines import readtime
from januscaler_refunds.deadlines.models import AlertNotification
from januscaler_refunds.refunds.models import RefundRequest, State

# A notification handed to the broker this long ago and still pending was lost (a Redis restart
# without persistence): above the longest retry countdown (1 h) and the visibility timeout (2 h).
REENQUEUE_AFTER = dt.timedelta(hours=3)
# A notification created this recently is being enqueued by whoever created it (on commit).
ENQUEUE_GRACE = dt.timedelta(minutes=2)

FLAGGED = (readtime.NEAR, readtime.OVERDUE)


def stranded_notifications(*, now: dt.datetime) -> QuerySet[AlertNotification]:
    """Pending notifications the broker refused, never got, or took and lost (the sweep)."""
    return AlertNotification.objects.filter(status=AlertNotification.Status.PENDING).filter(
        Q(enqueued_at__isnull=True, created_at__lt=now - ENQUEUE_GRACE)
        | (Q(enqueued_at__isnull=True) & ~Q(error=""))  # the broker refused it
        | Q(enqueued_at__lt=now - REENQUEUE_AFTER)
    )


def flagged_requests(clock: readtime.DeadlineClock) -> QuerySet[RefundRequest]:
    """Open requests whose review deadline, and approved ones whose payout deadline, is near or
    overdue *now* (rated at read time, deadlines/readtime.py: never the scan's stored columns),
    the earliest due first."""
    due = Case(When(state=State.APPROVED, then=F("payout_due_at")), default=F("review_due_at"))
    return (
        RefundRequest.objects.filter(flagged_q(clock))
        .select_related("assignee", "policy_version")
        .annotate(due_moment=due)
        .order_by("due_moment", "id")
    )


def flagged_q(clock: readtime.DeadlineClock, *, statuses: tuple[str, ...] = FLAGGED) -> Q:
    flagged = Q(pk__in=[])
    for status in statuses:
        flagged |= clock.review_q(status) | clock.payout_q(status)
    return flagged
