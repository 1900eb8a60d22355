"""The triage desk: what each triage reason means, the request a message most likely belongs to,
and the one-click attach to it. Create and discard are ``services.triage_attach``/``triage_discard``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from januscaler_refunds.intake.models import TriageItem
from januscaler_refunds.intake.parsing import (
    ParsedMessage,
    customer_text,
    propose_reason,
    strip_subject_prefixes,
)
from januscaler_refunds.intake.parsing.amounts import AmountReading, read_requested_amount
from januscaler_refunds.intake.services import (
    _stored_parse,
    _threaded_request,
    _uploads,
    attach_reply,
    find_invoice,
    lock_open_triage_item,
)
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import OPEN_STATES, RefundRequest
from januscaler_refunds.refunds.models import Reason as RefundReason
from januscaler_refunds.refunds.services import Actor

Reason = TriageItem.Reason


@dataclass(frozen=True)
class ReasonHelp:
    """A triage reason in words: what happened, and what the agent usually does about it."""

    what: str
    todo: str


REASON_HELP: dict[str, ReasonHelp] = {
    Reason.NO_INVOICE_NUMBER: ReasonHelp(
        "The subject names no invoice number, and policy section 4.1 asks for one.",
        "Find the customer's invoice from the sender or the text, then create a request on it.",
    ),
    Reason.UNKNOWN_INVOICE: ReasonHelp(
        "The subject names an invoice number we do not have: a typo, or another company's invoice.",
        "Look up the customer's real invoice and create the request on it, or discard.",
    ),
    Reason.AUTOMATED: ReasonHelp(
        "A machine sent this: a bounce, an out-of-office reply, a read receipt or a mailing list.",
        "Usually discard. A bounce may mean one of our emails did not reach a customer.",
    ),
    Reason.UNPARSEABLE: ReasonHelp(
        "The message could not be read as email; its raw bytes are kept.",
        "Open the raw message; if a customer wrote it, create the request by hand.",
    ),
    Reason.TOO_LARGE: ReasonHelp(
        "The message is larger than the intake limit, so its attachments were not taken.",
        "Ask the customer to send smaller files, or discard if it is not a request.",
    ),
    Reason.NO_SENDER: ReasonHelp(
        "There is no usable From address, so we cannot answer or match the customer.",
        "Attach it only if the text identifies the customer; otherwise discard.",
    ),
    Reason.REFUSED: ReasonHelp(
        "A rule refused to create the request; the detail says which.",
        "Read the rule, fix what it names (e.g. the invoice), then create the request.",
    ),
    Reason.REPLY_TO_CLOSED: ReasonHelp(
        "The customer replied on a request that is already decided or paid.",
        "Read it and attach it to that request so the history is complete; answer if needed.",
    ),
    Reason.MESSAGE_ID_REUSED: ReasonHelp(
        "Another message with the same Message-ID but different content arrived before.",
        "Compare the two; spam does this. Attach if a customer wrote it, else discard.",
    ),
    Reason.READ_ERROR: ReasonHelp(
        "The message could not be read from its mailbox or file.",
        "Check the source; discard once the message has been recovered.",
    ),
    Reason.INTERNAL_ERROR: ReasonHelp(
        "An unexpected error stopped the intake; the detail has it.",
        "Tell the developers, then create the request by hand so the customer is not kept waiting.",
    ),
}


def reason_help(reason: str) -> ReasonHelp:
    return REASON_HELP.get(reason, ReasonHelp("", ""))


def triage_matched_request(item: TriageItem) -> RefundRequest | None:
    """The request this message most likely belongs to: the one it replies to (headers or an
    ``RR-`` reference in a ``Re:`` subject), else the newest open request on the subject's invoice."""
    message = item.message
    stored = ParsedMessage(
        content_hash=message.content_hash,
        size=message.size,
        subject=message.subject,
        in_reply_to=message.in_reply_to or None,
        references=list(message.references or []),
        is_reply=bool(message.in_reply_to) or message.subject.lower().startswith(("re:", "aw:")),
    )
    request = _threaded_request(stored)
    if request is not None:
        return request
    invoice = find_invoice(message.invoice_number) if message.invoice_number else None
    if invoice is None:
        return None
    return (
        RefundRequest.objects.filter(invoice=invoice, state__in=OPEN_STATES)
        .order_by("-received_at")
        .first()
    )


def triage_customer_words(item: TriageItem) -> str:
    """The part of the message the sender wrote (no quoted reply, no signature)."""
    return customer_text(item.message.body_text[:40_000])


def triage_amount_reading(item: TriageItem) -> AmountReading:
    """What the customer's own words say about the amount, as intake would read it."""
    return read_requested_amount(triage_customer_words(item))


def triage_proposed_reason(item: TriageItem) -> str:
    """The refund reason intake proposes for the message (the agent can change it)."""
    subject = strip_subject_prefixes(item.message.subject)
    reason = propose_reason(f"{subject}\n{triage_customer_words(item)}")
    return reason if reason in RefundReason.values else RefundReason.OTHER


def triage_attach_to_request(
    *, item: TriageItem, request: RefundRequest, actor: Actor, note: str = ""
) -> TriageItem:
    """One click: add the message (and its attachments) to ``request`` as the customer's reply.

    Works on closed requests too (a reply on a paid request belongs in its history); documents a
    closed request refuses are named in the item's note instead of being lost.
    """
    with transaction.atomic():
        item = lock_open_triage_item(item=item, actor=actor)
        parsed = _stored_parse(item.message)
        result = attach_reply(
            message=item.message,
            parsed_body=parsed.body_text,
            uploads=_uploads(parsed),
            request=request,
            actor=actor,
        )
        item.status = TriageItem.Status.ATTACHED
        item.request = request
        item.invoice = request.invoice
        item.note = " ".join(part for part in (note.strip(), result.detail) if part)
        item.resolved_at = timezone.now()
        item.resolved_by = services._user_or_none(actor)
        item.save()
    return item
