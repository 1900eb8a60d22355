"""Billing facts behind a decision are frozen: an invoice (and its lines) with a decided request.

A decision (approve, deny, pay, credit) was taken on the invoice as it stood; changing its payment
method or amounts afterwards would let a crypto invoice be paid by card (section 4.3) or make the
record disagree with what the customer was told (issue 12, finding 4). The admin shows such
invoices read-only and imports refuse rows that would change them, both with ``frozen_message``.
The payout check itself uses the snapshot stored on the request at decision time.
"""

from __future__ import annotations

from januscaler_refunds.refunds.models import RefundRequest, State

DECIDED_STATES = (State.APPROVED, State.DENIED, State.PAID, State.CREDITED)


def invoice_deciding_reference(invoice_id: int | None) -> str | None:
    """The reference of a decided request on the invoice (the reason it is frozen), or None."""
    if invoice_id is None:
        return None
    return (
        RefundRequest.objects.filter(invoice_id=invoice_id, state__in=DECIDED_STATES)
        .order_by("decided_at", "id")
        .values_list("reference", flat=True)
        .first()
    )


def frozen_message(invoice_number: str, reference: str) -> str:
    return (
        f"Invoice {invoice_number} is frozen: refund request {reference} was decided on it, so its billing "
        "facts (payment method, amounts, lines) can no longer change."
    )
