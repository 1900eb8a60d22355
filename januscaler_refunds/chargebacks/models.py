"""Chargebacks (policy section 6): the record, its dispute, suspensions and the outbound event.

* ``Chargeback``: what the card network told us. Recorded once (by ``services.chargeback_record``)
  and not edited afterwards; the dispute outcome is the only thing that changes on it.
* ``Dispute``: one per chargeback, a state machine of its own (open -> evidence_submitted -> won |
  lost; open -> accepted). Its state field is protected; services in ``services.py`` move it.
* ``SuspensionEvent``: a row per suspension or reinstatement (who, when, why). Append-only.
* ``WebhookEvent`` / ``WebhookDelivery``: the outbox of events for other systems and one row per
  delivery attempt.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from januscaler_refunds.billing.models import MONEY, ZERO, Currency, Customer, Invoice
from januscaler_refunds.db_checks import choice_checks
from januscaler_refunds.refunds.models import AppendOnlyError, RefundRequest, StateFieldProtected


class Chargeback(models.Model):
    class Outcome(models.TextChoices):
        WON = "won", "Won"
        LOST = "lost", "Lost"
        ACCEPTED = "accepted", "Accepted"

    class Suspension(models.TextChoices):
        """What section 6.1 decided when the chargeback was recorded."""

        SUSPENDED = "suspended", "Account suspended (no earlier refund request)"
        SPARED = "spared", "Not suspended: a refund request came first"
        ALREADY_SUSPENDED = "already_suspended", "Account was already suspended"

    ref = models.CharField(max_length=64, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="chargebacks")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    network_reason = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField()
    evidence_due = models.DateField(null=True, blank=True, help_text="The network's deadline, if it gave one.")
    fee = models.DecimalField(**MONEY, default=ZERO)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    suspension = models.CharField(max_length=20, choices=Suspension.choices, blank=True, default="")
    prior_request = models.ForeignKey(
        RefundRequest,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The refund request filed before the chargeback, which spared the account (section 6.1).",
    )
    recorded_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0) & Q(fee__gte=0), name="chargeback_amounts_non_negative")
        ]

    def __str__(self) -> str:
        return self.ref

    @property
    def customer_id(self) -> int:
        return self.invoice.customer_id

    @property
    def fee_source_key(self) -> str:
        return f"chargeback:{self.ref}:fee"


class DisputeState(models.TextChoices):
    OPEN = "open", "Open"
    EVIDENCE_SUBMITTED = "evidence_submitted", "Evidence submitted"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    ACCEPTED = "accepted", "Accepted"


DISPUTE_FINAL_STATES = (DisputeState.WON, DisputeState.LOST, DisputeState.ACCEPTED)


class DisputeQuerySet(models.QuerySet["Dispute"]):
    def update(self, **kwargs: Any) -> int:
        if "state" in kwargs:
            raise StateFieldProtected("Dispute.state changes only through a dispute service (chargebacks.services).")
        return super().update(**kwargs)


class Dispute(FSMModelMixin, models.Model):
    """Our answer to one chargeback (section 6.2). Transitions change only this row's own fields."""

    class AlertLevel(models.TextChoices):
        NONE = "", "None"
        NEAR = "near", "Near"
        OVERDUE = "overdue", "Overdue"

    chargeback = models.OneToOneField(Chargeback, on_delete=models.PROTECT, related_name="dispute")
    state = FSMField(default=DisputeState.OPEN, choices=DisputeState.choices, protected=True, db_index=True)
    evidence_due = models.DateField(help_text="Last business day to send evidence (Kolkata).")
    evidence_due_at = models.DateTimeField(help_text="End of the evidence due day; what the scan compares with.")
    evidence_submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The last alert level raised, claimed by compare-and-set so each level alerts once.
    alert_level = models.CharField(max_length=8, choices=AlertLevel.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DisputeQuerySet.as_manager()

    class Meta:
        ordering = ["evidence_due"]
        permissions = [
            ("work_dispute", "Can submit dispute evidence and record dispute outcomes"),
            ("download_evidence_pack", "Can download a dispute's evidence pack"),
        ]
        indexes = [
            # The evidence-due scan only looks at disputes still waiting for evidence.
            models.Index(fields=["evidence_due_at"], name="dispute_open_evidence_due", condition=Q(state="open")),
        ]

    def __str__(self) -> str:
        return f"Dispute of {self.chargeback.ref} ({self.state})"

    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.EVIDENCE_SUBMITTED,
                permission="chargebacks.work_dispute")
    def submit_evidence(self, at: Any) -> None:
        """Evidence went to the network (section 6.2)."""
        self.evidence_submitted_at = at
        self.alert_level = ""

    @transition(field=state, source=DisputeState.EVIDENCE_SUBMITTED, target=DisputeState.WON,
                permission="chargebacks.work_dispute")
    def win(self, at: Any) -> None:
        """The network decided for Januscaler: the money stays with us."""
        self.closed_at = at

    @transition(field=state, source=DisputeState.EVIDENCE_SUBMITTED, target=DisputeState.LOST,
                permission="chargebacks.work_dispute")
    def lose(self, at: Any) -> None:
        """The network decided for the customer: the money went back to them."""
        self.closed_at = at

    @transition(field=state, source=DisputeState.OPEN, target=DisputeState.ACCEPTED,
                permission="chargebacks.work_dispute")
    def accept(self, at: Any) -> None:
        """We do not contest the chargeback: the money goes back to the customer."""
        self.closed_at = at
        self.alert_level = ""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(f"{self.model.__name__} is append-only; rows cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{self.model.__name__} is append-only; rows cannot be deleted.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError(f"{type(self).__name__} is append-only; rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError(f"{type(self).__name__} is append-only; rows cannot be deleted.")


class DisputeTransition(AppendOnlyModel):
    """Who moved a dispute from which state to which, when and why."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="log")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    transition = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, choices=DisputeState.choices, blank=True, default="")
    to_state = models.CharField(max_length=20, choices=DisputeState.choices)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '-'} -> {self.to_state} by {self.actor_label}"


class SuspensionEvent(AppendOnlyModel):
    """A suspension or reinstatement of a customer account: who, when and why (section 6.1)."""

    class Kind(models.TextChoices):
        SUSPENDED = "suspended", "Suspended"
        REINSTATED = "reinstated", "Reinstated"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="suspension_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="User name, or 'system'.")
    reason = models.TextField()
    chargeback = models.ForeignKey(
        Chargeback, null=True, blank=True, on_delete=models.PROTECT, related_name="suspension_events"
    )

    class Meta:
        ordering = ["at", "id"]
        permissions = [("reinstate_customer", "Can reinstate a suspended customer account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.customer_id} by {self.actor_label}"


class WebhookEvent(models.Model):
    """An event for other systems (the outbox). Delivered by ``tasks.deliver_webhook`` after commit."""

    class Type(models.TextChoices):
        CUSTOMER_SUSPENDED = "customer.suspended", "Customer suspended"
        CUSTOMER_REINSTATED = "customer.reinstated", "Customer reinstated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=Type.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True, help_text="Set when retries ran out.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="webhook_undelivered",
                         condition=Q(delivered_at__isnull=True, failed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    """One attempt to deliver a ``WebhookEvent``."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    url = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["event", "attempt"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "attempt"], name="webhook_delivery_attempt_unique")]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt} {'ok' if self.ok else 'failed'}"


choice_checks(Chargeback, "currency")
choice_checks(Dispute, "state")
choice_checks(SuspensionEvent, "kind")
