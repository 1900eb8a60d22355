"""Reads for chargebacks: balances, the policy version in force, what an evidence pack holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet, Sum

from januscaler_refunds.billing.models import Customer, LedgerEntry, PolicyVersion
from januscaler_refunds.chargebacks.models import Dispute
from januscaler_refunds.refunds.models import RefundRequest


def customer_balance(customer: Customer | int) -> dict[str, Decimal]:
    """What the customer owes, per currency: the sum of their ledger entries (section 6.3).

    Currencies are never added together; a currency with no entries is absent.
    """
    customer_id = customer if isinstance(customer, int) else customer.pk
    rows = (
        LedgerEntry.objects.filter(customer_id=customer_id)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return {row["currency"]: row["total"] for row in rows}


def format_balance(balance: dict[str, Decimal]) -> str:
    return ", ".join(f"{amount:.2f} {currency}" for currency, amount in balance.items()) or "0.00"


def earliest_request_before(invoice_id: int, moment: dt.datetime) -> RefundRequest | None:
    """The first refund request on the invoice received strictly before ``moment`` (section 6.1)."""
    return (
        RefundRequest.objects.filter(invoice_id=invoice_id, received_at__lt=moment)
        .order_by("received_at", "id")
        .first()
    )


def policy_version_in_force(on: dt.date) -> PolicyVersion | None:
    """The version in force on ``on``; before the first version, the first one (the only text there is)."""
    version = PolicyVersion.objects.filter(effective_date__lte=on).order_by("-effective_date").first()
    return version or PolicyVersion.objects.order_by("effective_date").first()


def disputes_needing_evidence(until: dt.datetime) -> QuerySet[Dispute]:
    """Open disputes whose evidence is due by ``until`` (uses the partial index on open disputes)."""
    return Dispute.objects.filter(state="open", evidence_due_at__lte=until).select_related(
        "chargeback__invoice__customer"
    )
