"""Email intake: one raw message in, exactly one outcome out (section 4.1).

``ingest_raw_message`` stores each message once (``InboundMessage``) with what it decided, in this order:

1. already ingested (same bytes, or same Message-ID and body) -> ``duplicate``, nothing written;
2. unparseable, too large, automated (bounce, auto-reply, list mail) or without a sender -> triage;
3. a reply threaded by In-Reply-To/References to a request, its messages or an earlier inbound
   message, or a subject naming a request reference (``RR-000123``) -> reply on that request;
4. the subject's invoice number matched to an invoice (none -> triage); a reply (``Re:`` or
   threading headers) about an invoice with an open request, or any message from the requester
   while that request waits for information -> reply on that request;
5. otherwise a new request through ``refunds.services.refund_request_create`` (which links a
   duplicate, flags a sender who is not the customer, and acknowledges); a rule that refuses
   (no policy in force, currency) -> triage with the rule's words.

The reads come first (``intake.run``: two round trips on PostgreSQL), then one transaction writes
the outcome and the message's row together. Whatever fails in it rolls it back whole, and a second
transaction keeps the message as a triage item with the error: received mail is never lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.intake.models import InboundMessage, TriageItem
from januscaler_refunds.intake.parsing import ParsedMessage, normalize_invoice_number, parse_message
from januscaler_refunds.intake.run import REFERENCE_IN_SUBJECT, IngestRun, Lookup
from januscaler_refunds.policy.calendar import BusinessCalendar
from januscaler_refunds.refunds import evaluation, services
from januscaler_refunds.refunds.evaluation import FactRows
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    Channel,
    CustomerMessage,
    Reason,
    RefundDocument,
    RefundRequest,
    State,
)
from januscaler_refunds.refunds.services import Actor, DocumentUpload, TransitionRefused

log = logging.getLogger(__name__)

DUPLICATE = "duplicate"
_REFERENCE_IN_SUBJECT = REFERENCE_IN_SUBJECT


@dataclass(frozen=True)
class IngestResult:
    """``outcome`` is ``request``, ``reply``, ``triage`` or ``duplicate``."""

    outcome: str
    message: InboundMessage
    request: RefundRequest | None = None
    triage: TriageItem | None = None
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message.pk,
            "request": self.request.reference if self.request else None,
            "triage_reason": self.triage.reason if self.triage else None,
            "detail": self.detail,
        }


class _Triage(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# --- keys ----------------------------------------------------------------------------------


def message_fingerprint(raw: bytes, parsed: ParsedMessage) -> str:
    """The message as its author sent it: Message-ID plus the body, line endings normalised.

    Trace headers (Received, Delivered-To, Return-Path) and CRLF/LF differences do not change it, so
    the same mail read from a Maildir file and later over IMAP is one message. Without a Message-ID
    the exact bytes decide. The body is hashed in chunks, never copied whole (a 30 MB message must
    not cost three copies of itself).
    """
    if not parsed.message_id:
        return parsed.content_hash
    digest = hashlib.sha256(b"mid:" + parsed.message_id.encode("utf-8", "replace") + b"\n")
    # The first blank line, as it would be after CRLF -> LF: a newline, maybe a CR, a newline.
    separator = _BLANK_LINE.search(raw)
    head = (raw[: separator.start()] if separator else raw).replace(b"\r\n", b"\n")
    if separator and head.endswith(b"\r"):  # the CR of the CRLF that ends the last header line
        head = head[:-1]
    for line in re.sub(rb"\n[ \t]+", b" ", head).split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in _AUTHOR_HEADERS:
            digest.update(name.strip().lower() + b":" + b" ".join(value.split()) + b"\n")
    digest.update(b"\n")
    if separator:
        _update_normalised(digest, memoryview(raw)[separator.end() :])
    return digest.hexdigest()


_BLANK_LINE = re.compile(rb"\n\r?\n")
_CHUNK = 1 << 20


def _update_normalised(digest: Any, body: memoryview) -> None:
    """``digest.update(body.replace(b"\\r\\n", b"\\n"))`` a megabyte at a time."""
    carry = b""
    for start in range(0, len(body), _CHUNK):
        chunk = carry + body[start : start + _CHUNK].tobytes()
        carry = b""
        if chunk.endswith(b"\r"):  # maybe the first half of a CRLF split by the chunking
            chunk, carry = chunk[:-1], b"\r"
        digest.update(chunk.replace(b"\r\n", b"\n"))
    digest.update(carry)


# Headers the author's client wrote that change what the message says; trace headers are left out.
_AUTHOR_HEADERS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"content-type",
        b"content-transfer-encoding",
        b"mime-version",
    }
)


# --- the entry point -----------------------------------------------------------------------------


def ingest_raw_message(
    raw: bytes,
    *,
    location: str = "",
    now: dt.datetime | None = None,
    source: str = InboundMessage.Source.FILE,
    read_error: str | None = None,
    run: IngestRun | None = None,
) -> IngestResult:
    """Store ``raw`` once and turn it into a request, a reply or a triage item. Never raises on input.

    ``run`` carries what the messages of one run share (``intake.run``: settings, policy versions,
    calendar, prepared queries); without it the call is a run of its own. The reads happen first;
    then one transaction writes the outcome together with the message. If anything fails in it,
    it rolls back whole and a second transaction keeps the message as a triage item with the error.
    """
    run = run or IngestRun()
    now = now or timezone.now()
    parsed = parse_message(
        raw, max_message_bytes=run.max_message_bytes, max_attachment_bytes=run.max_attachment_bytes
    )
    fingerprint = (
        message_fingerprint(raw, parsed)
        if not read_error
        else hashlib.sha256(
            f"unreadable:{location}:{read_error}".encode("utf-8", "replace")
        ).hexdigest()
    )
    content_hash = parsed.content_hash if not read_error else fingerprint
    lookup: Lookup | None = None
    failure: _Triage | None = None
    try:
        lookup = run.lookup(parsed, content_hash=content_hash, fingerprint=fingerprint)
    except Exception as exc:  # noqa: BLE001 - the message is kept, as a triage item with the error
        log.exception("intake lookup failed for %s", location)
        failure = _Triage(TriageItem.Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"[:2000])
    if lookup is not None and lookup.duplicate_of is not None:
        return _duplicate(lookup.duplicate_of)
    message = _message(raw, parsed, content_hash, fingerprint, location=location, now=now, source=source, run=run)
    try:
        if failure is not None or lookup is None:
            raise failure or AssertionError("no lookup")
        result = _place(message, parsed, lookup, run, now=now, read_error=read_error)
    except _Triage as exc:
        result = _to_triage(message, exc.reason, exc.detail)
    except TransitionRefused as exc:
        result = _to_triage(message, TriageItem.Reason.REFUSED, exc.message)
    except Exception as exc:  # noqa: BLE001 - the message must land somewhere, with the error shown
        if isinstance(exc, IntegrityError) and (existing := _existing(content_hash, fingerprint)):
            return _duplicate(existing)  # a concurrent ingest of the same message won its unique keys
        log.exception("intake failed to place message from %s", location)
        result = _to_triage(
            message, TriageItem.Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"[:2000]
        )
    if result.outcome == DUPLICATE:
        return result
    log.info("ingested %s from %s: %s %s", message.pk, location, result.outcome, result.detail)
    return result


def _existing(content_hash: str, fingerprint: str) -> int | None:
    return (
        InboundMessage.objects.filter(Q(content_hash=content_hash) | Q(fingerprint=fingerprint))
        .values_list("pk", flat=True)
        .first()
    )


def _duplicate(pk: int) -> IngestResult:
    existing = InboundMessage.objects.select_related("request").get(pk=pk)
    return IngestResult(DUPLICATE, existing, existing.request, detail="already ingested")


def _message(
    raw: bytes,
    parsed: ParsedMessage,
    content_hash: str,
    fingerprint: str,
    *,
    location: str,
    now: dt.datetime,
    source: str,
    run: IngestRun,
) -> InboundMessage:
    """The message's row, not yet saved, and its raw bytes already in storage (written once,
    whichever transaction then saves the row)."""
    message = InboundMessage(
        content_hash=content_hash,
        fingerprint=fingerprint,
        message_id=(parsed.message_id or "")[:998],
        size=len(raw),
        source=source,
        location=location[:1000],
        received_at=now,
        sent_at=parsed.date,
        subject=parsed.subject[:1000],
        from_address=(parsed.from_address or "")[:320],
        from_name=(parsed.from_name or "")[:300],
        in_reply_to=(parsed.in_reply_to or "")[:998],
        references=list(parsed.references),
        invoice_number=(parsed.invoice_number or "")[:64],
        automated_kind=parsed.automated_kind or "",
        body_text=parsed.body_text,
        attachments=[
            {
                "name": a.filename,
                "original_name": a.original_filename,
                "declared_type": a.declared_type,
                "detected_type": a.detected_type,
                "size": a.size,
                "sha256": a.sha256,
                "rejected": a.rejected,
            }
            for a in parsed.attachments
        ],
        outcome=InboundMessage.Outcome.TRIAGE,
        error=parsed.error or "",
        defects=list(parsed.defects),
    )
    if raw and len(raw) <= run.max_stored_bytes:
        message.raw.save(f"{content_hash}.eml", ContentFile(raw), save=False)
    return message


def _record(message: InboundMessage, outcome: str, request: RefundRequest | None) -> None:
    """Save the message's outcome: an INSERT for a message being ingested, else an UPDATE."""
    message.outcome = outcome
    message.request = request
    if message.pk is None:
        message.save(force_insert=True)
    else:
        message.save(update_fields=["outcome", "request"])


def _to_triage(message: InboundMessage, reason: str, detail: str) -> IngestResult:
    """Keep the message as a triage item, in a transaction of its own (after any rolled-back one)."""
    if message._state.adding:
        message.pk = None  # an INSERT that was rolled back left its id on the instance
    try:
        with transaction.atomic():
            _record(message, InboundMessage.Outcome.TRIAGE, None)
            item = TriageItem.objects.create(message=message, reason=reason, detail=detail)
    except IntegrityError:
        existing = _existing(message.content_hash, message.fingerprint)
        if existing is None:
            raise
        return _duplicate(existing)
    return IngestResult(InboundMessage.Outcome.TRIAGE, message, triage=item, detail=detail)


def _place(
    message: InboundMessage,
    parsed: ParsedMessage,
    lookup: Lookup,
    run: IngestRun,
    *,
    now: dt.datetime,
    read_error: str | None,
) -> IngestResult:
    """Decide from what was read (raising ``_Triage`` when no rule places the message), then write
    the outcome and the message in one transaction."""
    if read_error:
        raise _Triage(TriageItem.Reason.READ_ERROR, read_error)
    if parsed.too_large:
        raise _Triage(
            TriageItem.Reason.TOO_LARGE,
            f"{parsed.size} bytes; messages above {run.max_message_bytes} bytes are not read in full.",
        )
    if not (parsed.subject or parsed.from_address or parsed.body_text.strip() or parsed.attachments):
        raise _Triage(TriageItem.Reason.UNPARSEABLE, parsed.error or "Nothing readable: no headers, text or attachments.")
    if parsed.error and not (parsed.subject or parsed.from_address):
        raise _Triage(TriageItem.Reason.UNPARSEABLE, parsed.error)
    if parsed.is_automated:
        raise _Triage(TriageItem.Reason.AUTOMATED, f"Automated mail: {parsed.automated_kind}.")
    if not parsed.from_address or "@" not in parsed.from_address:
        raise _Triage(
            TriageItem.Reason.NO_SENDER, "The message has no usable From address to answer."
        )
    if parsed.message_id and lookup.message_id_taken:
        raise _Triage(
            TriageItem.Reason.MESSAGE_ID_REUSED,
            f"Message-ID <{parsed.message_id}> was received before with different content.",
        )

    if lookup.threaded_request_id is not None:
        threaded = _request(lookup.threaded_request_id)
        if threaded.state not in OPEN_STATES:
            raise _Triage(
                TriageItem.Reason.REPLY_TO_CLOSED,
                f"A reply on {threaded.reference}, which is {threaded.get_state_display().lower()}; an agent decides.",
            )
        with transaction.atomic():
            return _reply(message, parsed, threaded, run)

    if not parsed.invoice_number:
        raise _Triage(
            TriageItem.Reason.NO_INVOICE_NUMBER,
            f"No invoice number in the subject {parsed.subject!r}.",
        )
    invoice = lookup.invoice
    if invoice is None:
        raise _Triage(TriageItem.Reason.UNKNOWN_INVOICE, f"No invoice {parsed.invoice_number}.")

    reason = parsed.proposed_reason if parsed.proposed_reason in Reason.values else Reason.OTHER
    history = run.history(invoice, reason=reason)
    open_rows = [r for r in history.other_requests if r["invoice_id"] == invoice.pk and r["state"] in OPEN_STATES]
    open_row = max(open_rows, key=lambda r: (r["received_at"], r["id"]), default=None)
    if open_row is not None and (
        parsed.is_reply
        or parsed.references
        or (
            open_row["state"] == State.INFO_REQUESTED
            and open_row["requester_email"] == parsed.from_address.strip().lower()
        )
    ):
        open_request = _request(open_row["id"])
        with transaction.atomic():
            return _reply(message, parsed, open_request, run)
    with transaction.atomic():
        return create_request_from_message(
            message=message,
            parsed=parsed,
            invoice=invoice,
            reason=reason,
            requester_email=parsed.from_address or "",
            received_at=_received_at(parsed, now),
            actor=None,
            run=run,
            history=history,
        )


def _request(pk: int) -> RefundRequest:
    return RefundRequest.objects.select_related("invoice", "customer", "policy_version").get(pk=pk)


def find_invoice(number: str) -> Invoice | None:
    """The invoice a subject names: the parser's canonical form, then the billing app's stored form."""
    for candidate in dict.fromkeys(
        [number, normalize_invoice_number(number), "".join(number.split()).upper()]
    ):
        invoice = Invoice.objects.select_related("customer").filter(number=candidate).first()
        if invoice is not None:
            return invoice
    return None


def _threaded_request(parsed: ParsedMessage) -> RefundRequest | None:
    ids = [i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i]
    if ids:
        ids = list(dict.fromkeys(ids))
        request = (
            RefundRequest.objects.filter(thread_message_id__in=ids).order_by("-received_at").first()
        )
        if request is not None:
            return request
        request_id = (
            CustomerMessage.objects.filter(message_id__in=ids)
            .order_by("-created_at")
            .values_list("request_id", flat=True)
            .first()
            or InboundMessage.objects.filter(message_id__in=ids, request__isnull=False)
            .order_by("-received_at")
            .values_list("request_id", flat=True)
            .first()
        )
        if request_id is not None:
            return RefundRequest.objects.get(pk=request_id)
    match = _REFERENCE_IN_SUBJECT.search(parsed.subject or "")
    if match and (parsed.is_reply or ids):
        return RefundRequest.objects.filter(reference=f"RR-{match.group(1)}").first()
    return None


def _uploads(parsed: ParsedMessage) -> list[DocumentUpload]:
    return [
        DocumentUpload(
            name=a.filename,
            content=a.content,
            content_type=a.detected_type,
            source=RefundDocument.Source.EMAIL,
        )
        for a in parsed.attachments
        if not a.rejected and a.content
    ]


def _reply(message: InboundMessage, parsed: ParsedMessage, request: RefundRequest, run: IngestRun) -> IngestResult:
    return attach_reply(
        message=message,
        parsed_body=parsed.body_text,
        uploads=_uploads(parsed),
        request=request,
        actor=None,
        calendar=run.calendar,
    )


def attach_reply(
    *,
    message: InboundMessage,
    parsed_body: str,
    uploads: list[DocumentUpload],
    request: RefundRequest,
    actor: Actor,
    calendar: BusinessCalendar | None = None,
) -> IngestResult:
    """Add an inbound message and its documents to ``request``; an answer resumes an information request.

    The caller holds the transaction; ``message`` is saved here (inserted when it is new)."""
    CustomerMessage.objects.create(
        request=request,
        direction=CustomerMessage.Direction.INBOUND,
        kind="reply",
        to_email=message.from_address,
        subject=message.subject[:255],
        body=parsed_body,
        message_id=message.message_id[:255],
        status=CustomerMessage.Status.RECEIVED,
    )
    skipped = _attach_documents(request, uploads, actor)
    request.refresh_from_db(fields=["state", "evaluated_at"])  # what decides below, as it is now
    if request.state == State.INFO_REQUESTED:
        services.refund_request_resume_review(
            request=request,
            actor=actor,
            note=f"The customer replied by email ({message.subject[:120]}).",
        )
    elif uploads:
        evaluation.evaluate_and_store(request, calendar=calendar)
    _record(message, InboundMessage.Outcome.REPLY, request)
    return IngestResult(InboundMessage.Outcome.REPLY, message, request=request, detail=skipped)


def _attach_documents(request: RefundRequest, uploads: list[DocumentUpload], actor: Actor) -> str:
    refused = []
    for upload in uploads:
        try:
            services.document_attach(request=request, upload=upload, actor=actor, reevaluate=False)
        except TransitionRefused as exc:
            refused.append(exc.message)
    return " ".join(refused)


def _received_at(parsed: ParsedMessage, now: dt.datetime) -> dt.datetime:
    """The Date header, never later than when we got the mail (a clock ahead must not buy time)."""
    if parsed.date is None or timezone.is_naive(parsed.date):
        return now
    return min(parsed.date, now)


def amount_note(parsed: ParsedMessage, *, invoice_currency: str) -> str:
    """What the agent should know about the requested amount intake did not set, or ``""``."""
    if parsed.requested_amount_note:
        return parsed.requested_amount_note
    if parsed.requested_amount is not None and parsed.requested_currency != invoice_currency:
        return (
            f"Requested amount not set: the customer asks for {parsed.requested_amount} "
            f"{parsed.requested_currency} but the invoice is in {invoice_currency} "
            f"(\"{parsed.requested_amount_context}\"). Convert and set the amount if it applies."
        )
    return ""


def create_request_from_message(
    *,
    message: InboundMessage,
    parsed: ParsedMessage,
    invoice: Invoice,
    reason: str,
    requester_email: str,
    received_at: dt.datetime,
    actor: Actor,
    run: IngestRun | None = None,
    history: FactRows | None = None,
) -> IngestResult:
    """A new request from ``message``; the caller holds the transaction. ``run`` and ``history``
    (intake's ingest) pass what was already read on to ``refund_request_create``."""
    amount = parsed.requested_amount if parsed.requested_currency == invoice.currency else None
    request = services.refund_request_create(
        invoice=invoice,
        reason=reason,
        received_at=received_at,
        requester_email=requester_email,
        channel=Channel.EMAIL,
        message=parsed.body_text,
        requested_amount=amount,
        currency=invoice.currency,
        actor=actor,
        documents=_uploads(parsed),
        thread_message_id=(parsed.message_id or "")[:255],
        policy_versions=run.policy_versions if run else None,
        calendar=run.calendar if run else None,
        history=history,
    )
    note = amount_note(parsed, invoice_currency=invoice.currency)
    if note:  # written by intake itself (actor None), so an agent without note rights still gets it
        services.internal_note_add(request=request, actor=None, body=note)
    _record(message, InboundMessage.Outcome.REQUEST, request)
    detail = f"duplicate of {request.duplicate_of.reference}" if request.duplicate_of is not None else ""
    return IngestResult(InboundMessage.Outcome.REQUEST, message, request=request, detail=detail)


# --- triage ---------------------------------------------------------------------------------------


def _stored_parse(message: InboundMessage) -> ParsedMessage:
    if not message.raw:
        raise TransitionRefused(
            "triage.raw", "The raw message was not stored (too large); it cannot be attached."
        )
    with message.raw.open("rb") as handle:
        raw = handle.read()
    return parse_message(
        raw, max_message_bytes=len(raw) + 1, max_attachment_bytes=settings.MAX_DOCUMENT_BYTES
    )


def lock_open_triage_item(*, item: TriageItem, actor: Actor) -> TriageItem:
    """Guard and lock shared by every way of resolving an item; call inside ``atomic()``."""
    services._require_perm(
        actor, "intake.resolve_triageitem", "permission.triage", "resolve triage items"
    )
    item = TriageItem.objects.select_for_update().select_related("message").get(pk=item.pk)
    if item.status != TriageItem.Status.OPEN:
        raise TransitionRefused(
            "triage.status", f"This item is already {item.get_status_display().lower()}."
        )
    return item


def triage_attach(
    *,
    item: TriageItem,
    actor: Actor,
    invoice: Invoice,
    reason: str = "",
    requester_email: str = "",
    as_reply: bool = False,
    note: str = "",
) -> TriageItem:
    """An agent places a triage item: a new request on ``invoice``, or a reply on its open request."""
    with transaction.atomic():
        item = lock_open_triage_item(item=item, actor=actor)
        message = item.message
        parsed = _stored_parse(message)
        if as_reply:
            request = (
                RefundRequest.objects.filter(invoice=invoice, state__in=OPEN_STATES)
                .order_by("-received_at")
                .first()
            )
            if request is None:
                raise TransitionRefused(
                    "triage.reply", f"Invoice {invoice.number} has no open request to reply on."
                )
            result = attach_reply(
                message=message,
                parsed_body=parsed.body_text,
                uploads=_uploads(parsed),
                request=request,
                actor=actor,
            )
        else:
            email = (requester_email or message.from_address or invoice.customer.email).strip()
            result = create_request_from_message(
                message=message,
                parsed=parsed,
                invoice=invoice,
                reason=reason or parsed.proposed_reason,
                requester_email=email,
                received_at=message.sent_at
                and min(message.sent_at, message.received_at)
                or message.received_at,
                actor=actor,
            )
        item.status = TriageItem.Status.ATTACHED
        item.request = result.request
        item.invoice = invoice
        item.note = note
        item.resolved_at = timezone.now()
        item.resolved_by = services._user_or_none(actor)
        item.save()
    return item


def triage_discard(*, item: TriageItem, actor: Actor, note: str) -> TriageItem:
    services._require_perm(
        actor, "intake.resolve_triageitem", "permission.triage", "resolve triage items"
    )
    if not note.strip():
        raise TransitionRefused("triage.note", "Say why the message is discarded.")
    updated = TriageItem.objects.filter(pk=item.pk, status=TriageItem.Status.OPEN).update(
        status=TriageItem.Status.DISCARDED,
        note=note.strip(),
        resolved_at=timezone.now(),
        resolved_by=services._user_or_none(actor),
    )
    if not updated:  # compare-and-set: someone else resolved it first
        raise TransitionRefused("triage.status", "This item was already resolved.")
    item.refresh_from_db()
    return item
