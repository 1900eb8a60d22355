"""Alerts raised when a deadline turns near or overdue, the notifications they send, the digest.

An alert is unique per (subject, deadline kind, level, due moment): the database, not the code
path, decides that a scan run twice, a task delivered twice or two beat processes alert once.
The subject is generic (a refund request, a dispute) so chargebacks can alert on evidence dates.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Alert(models.Model):
    class SubjectType(models.TextChoices):
        REFUND_REQUEST = "refund_request", "Refund request"
        DISPUTE = "dispute", "Dispute"

    class Kind(models.TextChoices):
        REVIEW = "review", "Review deadline"
        PAYOUT = "payout", "Payout deadline"
        EVIDENCE = "evidence", "Dispute evidence"

    class Level(models.TextChoices):
        NEAR = "near", "Near"
        OVERDUE = "overdue", "Overdue"

    subject_type = models.CharField(max_length=20, choices=SubjectType.choices)
    subject_id = models.BigIntegerField()
    request = models.ForeignKey(
        "refunds.RefundRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    level = models.CharField(max_length=8, choices=Level.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField()
    # Set by the insert that created the row; a conflicting insert leaves the first token, so
    # "rows carrying my token" are exactly the alerts this scan (or raise_alert call) created.
    token = models.CharField(max_length=32, editable=False)
    # Subject and body given by the caller (raise_alert); empty for the scan's own alerts, whose
    # text is rendered from templates/emails/alert_<level>.txt when sent.
    subject = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "kind", "level", "due_at"], name="alert_once_per_deadline"
            )
        ]
        indexes = [models.Index(fields=["token"]), models.Index(fields=["kind", "level", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.level}: {self.subject_type} {self.subject_id}"


class AlertNotification(models.Model):
    """One email of one alert to one recipient: every send attempt is recorded here."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.EmailField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    # When the send task was last handed to the broker; NULL while the broker was unreachable.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "recipient"], name="alert_notification_once_per_recipient")
        ]
        indexes = [
            # The sweep only looks at what is still to send.
            models.Index(fields=["enqueued_at"], name="alert_notification_pending", condition=Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"


class DigestRun(models.Model):
    """The managers' daily digest: one row per Kolkata day, so it is never sent twice."""

    day = models.DateField(unique=True)
    created_at = models.DateTimeField()
    recipients = models.TextField(blank=True, default="")
    near_count = models.PositiveIntegerField(default=0)
    overdue_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"digest {self.day:%Y-%m-%d}"
