"""Chargebacks (policy section 6). The dispute workflow builds on this record."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from januscaler_refunds.billing.models import MONEY, ZERO, Currency, Invoice


class Chargeback(models.Model):
    class Outcome(models.TextChoices):
        WON = "won", "Won"
        LOST = "lost", "Lost"
        ACCEPTED = "accepted", "Accepted"

    ref = models.CharField(max_length=64, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="chargebacks")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    network_reason = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField()
    evidence_due = models.DateField(null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=ZERO)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
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
