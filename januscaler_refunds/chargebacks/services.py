"""Writes for chargebacks (policy section 6). Admin, import and tasks call these and nothing else.

* ``chargeback_record``: the chargeback, its dispute, its fee on the ledger, the section 6.1
  suspension and the re-evaluation of open requests, in one transaction; the signal and the
  webhook only after commit.
* ``customer_reinstate``: a manager lifts a suspension with a reason.
* ``dispute_submit_evidence`` / ``dispute_win`` / ``dispute_lose`` / ``dispute_accept``: lock ->
  transition -> save -> log -> outcome on the chargeback -> re-evaluate.
* ``chargeback_book_fee`` / ``dispute_add_cost``: ledger entries keyed so each is booked once.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from januscaler_refunds.billing.models import Customer, Invoice, LedgerEntry
from januscaler_refunds.chargebacks import selectors, signals, tasks
from januscaler_refunds.chargebacks.models import (
    Chargeback,
    Dispute,
    DisputeState,
    DisputeTransition,
    SuspensionEvent,
    WebhookEvent,
)
from januscaler_refunds.chargebacks.webhooks import encode_body
from januscaler_refunds.policy.calendar import BusinessCalendar, end_of_day, local_date
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.services import (
    Actor,
    TransitionRefused,
    _require_perm,
    _user_or_none,
    actor_label,
    reevaluate_open_requests,
)

SYSTEM = "system"
SUSPENSION_SECTION = "6.1"


# --- due dates ---------------------------------------------------------------------------------


def evidence_due_for(
    *, received_at: dt.datetime, network_due: dt.date | None, calendar: BusinessCalendar
) -> dt.date:
    """The last business day to send evidence.

    The network's own deadline wins when it gave one; the team does not work on weekends and
    holidays, so a deadline on one of those moves back to the business day before it. Without one,
    the evidence is due CHARGEBACK_EVIDENCE_BUSINESS_DAYS business days after the day received.
    """
    if network_due is not None:
        if calendar.is_business_day(network_due):
            return network_due
        return calendar.add_business_days(network_due, -1)
    return calendar.add_business_days(local_date(received_at), settings.CHARGEBACK_EVIDENCE_BUSINESS_DAYS)


# --- recording ---------------------------------------------------------------------------------


def chargeback_check(
    *, invoice: Invoice, ref: str, amount: Decimal, currency: str, received_at: dt.datetime, fee: Decimal
) -> None:
    if not ref.strip():
        raise TransitionRefused("chargeback.ref", "A chargeback needs the network's reference.")
    if currency != invoice.currency:
        raise TransitionRefused(
            "chargeback.currency",
            f"The chargeback is in {currency} but invoice {invoice.number} is in {invoice.currency}.",
        )
    if amount <= 0:
        raise TransitionRefused("chargeback.amount", "The chargeback amount must be positive.")
    if fee < 0:
        raise TransitionRefused("chargeback.fee", "The chargeback fee cannot be negative.")
    if timezone.is_naive(received_at):
        raise TransitionRefused("chargeback.received_at", "received_at must carry a time zone.")
    if Chargeback.objects.filter(ref=ref).exists():
        raise TransitionRefused("chargeback.ref_exists", f"Chargeback {ref} is already recorded.")


def chargeback_record(
    *,
    invoice: Invoice,
    ref: str,
    amount: Decimal,
    currency: str,
    network_reason: str,
    received_at: dt.datetime,
    evidence_due: dt.date | None,
    fee: Decimal,
    actor: Actor,
) -> Chargeback:
    """Record a chargeback and apply section 6 to it.

    Section 6.1: when no refund request on the invoice was received before the chargeback, the
    account is suspended at once by the system. Either way the open requests on the invoice are
    re-evaluated, so they show ``chargeback_open`` (a block: the recommendation becomes deny).
    """
    ref = ref.strip()
    fee = fee or Decimal("0.00")
    chargeback_check(invoice=invoice, ref=ref, amount=amount, currency=currency, received_at=received_at, fee=fee)
    calendar = business_calendar()
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=invoice.customer_id)
        prior = selectors.earliest_request_before(invoice.pk, received_at)
        chargeback = Chargeback.objects.create(
            ref=ref,
            invoice=invoice,
            amount=amount,
            currency=currency,
            network_reason=network_reason.strip(),
            received_at=received_at,
            evidence_due=evidence_due,
            fee=fee,
            prior_request=prior,
            recorded_by=actor_label(actor),
        )
        due = evidence_due_for(received_at=received_at, network_due=evidence_due, calendar=calendar)
        dispute = Dispute.objects.create(chargeback=chargeback, evidence_due=due, evidence_due_at=end_of_day(due))
        DisputeTransition.objects.create(
            dispute=dispute,
            at=timezone.now(),
            actor=_user_or_none(actor),
            actor_label=actor_label(actor),
            transition="open",
            to_state=dispute.state,
            note=f"Opened with the chargeback; evidence due {due:%Y-%m-%d}.",
        )
        chargeback_book_fee(chargeback=chargeback, actor=actor)

        if prior is not None:
            decision = Chargeback.Suspension.SPARED
        elif customer.status == Customer.Status.SUSPENDED:
            decision = Chargeback.Suspension.ALREADY_SUSPENDED
        else:
            decision = Chargeback.Suspension.SUSPENDED
            reason = (
                f"Chargeback {ref} on invoice {invoice.number} was received on "
                f"{timezone.localtime(received_at):%Y-%m-%d %H:%M} without an earlier refund request "
                f"(Refund Policy section {SUSPENSION_SECTION})."
            )
            _suspend(customer=customer, reason=reason, chargeback=chargeback)
        Chargeback.objects.filter(pk=chargeback.pk).update(suspension=decision)
        chargeback.suspension = decision

        # The invoice's open requests now show chargeback_open; after a suspension every open
        # request of the customer shows account_suspended as well.
        reevaluate_open_requests(customer_ids=[customer.pk])
    return chargeback


# --- suspension and reinstatement ---------------------------------------------------------------


def _customer_payload(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        "email": customer.email,
        "name": customer.name,
        "external_id": customer.external_id,
        "status": customer.status,
    }


def _suspend(*, customer: Customer, reason: str, chargeback: Chargeback) -> SuspensionEvent:
    """Suspend a locked customer row; signal and webhook after commit. Caller holds the transaction."""
    now = timezone.now()
    customer.status = Customer.Status.SUSPENDED
    customer.suspended_at = now
    customer.suspension_reason = reason
    customer.suspended_by = SYSTEM
    customer.save(update_fields=["status", "suspended_at", "suspension_reason", "suspended_by"])
    event = SuspensionEvent.objects.create(
        customer=customer, kind=SuspensionEvent.Kind.SUSPENDED, at=now, actor_label=SYSTEM,
        reason=reason, chargeback=chargeback,
    )
    payload = {
        "customer": _customer_payload(customer),
        "suspended_at": now,
        "suspended_by": SYSTEM,
        "reason": reason,
        "policy_section": SUSPENSION_SECTION,
        "chargeback": {
            "ref": chargeback.ref,
            "invoice_number": chargeback.invoice.number,
            "amount": f"{chargeback.amount:.2f}",
            "currency": chargeback.currency,
            "network_reason": chargeback.network_reason,
            "received_at": chargeback.received_at,
        },
    }
    _emit(
        WebhookEvent.Type.CUSTOMER_SUSPENDED,
        payload,
        signal_name="customer_suspended",
        signal_kwargs={"customer": customer, "event": event, "chargeback": chargeback, "reason": reason,
                       "suspended_at": now},
    )
    return event


def customer_reinstate(*, customer: Customer, actor: Actor, reason: str) -> Customer:
    """A manager lifts a suspension (section 6.1), with a reason that is logged."""
    if actor is None:
        raise TransitionRefused("permission.reinstate", "Only a manager can reinstate an account.")
    _require_perm(actor, "chargebacks.reinstate_customer", "permission.reinstate", "reinstate accounts")
    if not reason.strip():
        raise TransitionRefused("section_6_1.reinstate_reason", "Say why the account is reinstated.")
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.status != Customer.Status.SUSPENDED:
            raise TransitionRefused("section_6_1.not_suspended", f"{customer.email} is not suspended.")
        now = timezone.now()
        customer.status = Customer.Status.ACTIVE
        customer.suspended_at = None
        customer.suspension_reason = ""
        customer.suspended_by = ""
        customer.save(update_fields=["status", "suspended_at", "suspension_reason", "suspended_by"])
        event = SuspensionEvent.objects.create(
            customer=customer, kind=SuspensionEvent.Kind.REINSTATED, at=now, actor=_user_or_none(actor),
            actor_label=actor_label(actor), reason=reason.strip(),
        )
        reevaluate_open_requests(customer_ids=[customer.pk])
        _emit(
            WebhookEvent.Type.CUSTOMER_REINSTATED,
            {"customer": _customer_payload(customer), "reinstated_at": now,
             "reinstated_by": actor_label(actor), "reason": reason.strip()},
            signal_name="customer_reinstated",
            signal_kwargs={"customer": customer, "event": event, "reason": reason.strip(), "reinstated_at": now,
                           "actor": actor},
        )
    return customer


def _emit(event_type: str, data: dict[str, Any], *, signal_name: str, signal_kwargs: dict[str, Any]) -> WebhookEvent:
    """Store the event (outbox) now; send the signal and enqueue the webhook once committed."""
    event = WebhookEvent(type=event_type)
    body = {"id": str(event.id), "type": event_type, "created_at": timezone.now(), "data": data}
    # Round-trip through the encoder so the stored payload is exactly what is sent (dates as strings).
    event.payload = json.loads(encode_body(body))
    event.save()
    signal = getattr(signals, signal_name)
    transaction.on_commit(lambda: signal.send(sender=Customer, **signal_kwargs))
    transaction.on_commit(lambda: tasks.deliver_webhook.delay(str(event.pk)))
    return event


def webhook_redeliver(*, event: WebhookEvent) -> WebhookEvent:
    """Send a failed event again (after the receiver was fixed); a delivered one is never resent."""
    if event.delivered_at is not None:
        raise TransitionRefused("webhook.delivered", f"Event {event.pk} was already delivered.")
    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event.pk, delivered_at__isnull=True).update(failed_at=None)
        transaction.on_commit(lambda: tasks.deliver_webhook.delay(str(event.pk)))
    return event


# --- ledger ----------------------------------------------------------------------------------


def _book(*, customer_id: int, kind: str, amount: Decimal, currency: str, description: str, source_key: str,
          actor: Actor) -> tuple[LedgerEntry, bool]:
    """Book an entry once per ``source_key``; a second call returns the first entry unchanged."""
    existing = LedgerEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                customer_id=customer_id, kind=kind, amount=amount, currency=currency,
                description=description[:255], source_key=source_key, created_by=_user_or_none(actor),
            )
        return entry, True
    except IntegrityError:  # a concurrent booking of the same key won; that one stands
        return LedgerEntry.objects.get(source_key=source_key), False


def chargeback_book_fee(*, chargeback: Chargeback, actor: Actor = None) -> LedgerEntry | None:
    """Section 6.3: the network's chargeback fee goes on the customer's balance, exactly once."""
    if not chargeback.fee:
        return None
    entry, _ = _book(
        customer_id=chargeback.invoice.customer_id,
        kind=LedgerEntry.Kind.CHARGEBACK_FEE,
        amount=chargeback.fee,
        currency=chargeback.currency,
        description=f"Chargeback fee for {chargeback.ref} (invoice {chargeback.invoice.number}), section 6.3",
        source_key=chargeback.fee_source_key,
        actor=actor,
    )
    return entry


def dispute_add_cost(
    *, dispute: Dispute, key: str, amount: Decimal, description: str, actor: Actor
) -> LedgerEntry:
    """Section 6.3: a cost of disputing (e.g. a legal fee). ``key`` names the cost so a re-save books nothing."""
    _require_perm(actor, "chargebacks.work_dispute", "permission.dispute_cost", "add dispute costs")
    if amount <= 0:
        raise TransitionRefused("section_6_3.cost_amount", "A dispute cost must be positive.")
    if not key.strip():
        raise TransitionRefused("section_6_3.cost_key", "Name the cost (e.g. the invoice of the lawyer).")
    chargeback = dispute.chargeback
    entry, _ = _book(
        customer_id=chargeback.invoice.customer_id,
        kind=LedgerEntry.Kind.DISPUTE_COST,
        amount=amount,
        currency=chargeback.currency,
        description=f"Dispute cost for {chargeback.ref}: {description}",
        source_key=f"chargeback:{chargeback.ref}:cost:{key.strip()}",
        actor=actor,
    )
    return entry


# --- dispute transitions ---------------------------------------------------------------------


def _dispute_transition(dispute: Dispute, method_name: str, *, actor: Actor, note: str) -> Dispute:
    """lock -> check -> transition -> save -> log -> outcome -> re-evaluate, in one transaction."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().select_related("chargeback__invoice").get(pk=dispute.pk)
        method = getattr(dispute, method_name)
        label = method_name.replace("_", " ")
        if not can_proceed(method):
            raise TransitionRefused(
                f"dispute.{method_name}",
                f"The dispute of {dispute.chargeback.ref} is {dispute.get_state_display().lower()}; "
                f"'{label}' is not possible from that state.",
            )
        user = _user_or_none(actor)
        if user is not None and not has_transition_perm(method, user):
            raise TransitionRefused(f"permission.dispute.{method_name}", f"You do not have permission to {label}.")
        from_state = dispute.state
        now = timezone.now()
        try:
            method(now)
        except TransitionNotAllowed as exc:
            raise TransitionRefused(f"dispute.{method_name}", str(exc)) from exc
        dispute.save()
        DisputeTransition.objects.create(
            dispute=dispute, at=now, actor=user, actor_label=actor_label(actor), transition=method_name,
            from_state=from_state, to_state=dispute.state, note=note,
        )
        if dispute.state in (DisputeState.WON, DisputeState.LOST, DisputeState.ACCEPTED):
            # The engine reads the outcome: ``won`` clears chargeback_open on the invoice's requests.
            Chargeback.objects.filter(pk=dispute.chargeback_id).update(outcome=dispute.state)
            dispute.chargeback.outcome = dispute.state
            reevaluate_open_requests(customer_ids=[dispute.chargeback.invoice.customer_id])
    return dispute


def dispute_submit_evidence(*, dispute: Dispute, actor: Actor, note: str = "") -> Dispute:
    return _dispute_transition(dispute, "submit_evidence", actor=actor, note=note or "Evidence sent to the network.")


def dispute_win(*, dispute: Dispute, actor: Actor, note: str = "") -> Dispute:
    return _dispute_transition(dispute, "win", actor=actor, note=note or "The network decided for Januscaler.")


def dispute_lose(*, dispute: Dispute, actor: Actor, note: str = "") -> Dispute:
    return _dispute_transition(dispute, "lose", actor=actor, note=note or "The network decided for the customer.")


def dispute_accept(*, dispute: Dispute, actor: Actor, note: str = "") -> Dispute:
    return _dispute_transition(dispute, "accept", actor=actor, note=note or "Chargeback accepted, not contested.")


DISPUTE_SERVICES = {
    "submit_evidence": dispute_submit_evidence,
    "win": dispute_win,
    "lose": dispute_lose,
    "accept": dispute_accept,
}
