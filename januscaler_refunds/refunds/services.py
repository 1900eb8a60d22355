"""Writes on refund requests. Every state change goes through one function here.

Each service opens with guard clauses whose errors name the rule that refused,
then: lock the row -> check the transition -> transition -> save -> log row ->
``transaction.on_commit`` for anything sent outside the database. Admin actions,
commands, imports and tasks call these; they hold no business rules themselves.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed, has_transition_perm

from januscaler_refunds.billing.models import CompanyHoliday, Invoice, PolicyVersion
from januscaler_refunds.policy.calendar import BusinessCalendar, calendar_with
from januscaler_refunds.policy.codes import REASON_CODES
from januscaler_refunds.policy.engine import evaluate as evaluate_facts
from januscaler_refunds.policy.versions import NoPolicyInForce
from januscaler_refunds.refunds import documents, evaluation, reevaluation, references
from januscaler_refunds.refunds.documents import DocumentUpload
from januscaler_refunds.refunds.filenames import safe_document_name
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    UNSETTLED_STATES,
    AccountCredit,
    ApprovalLimit,
    Channel,
    InformationRequest,
    InternalNote,
    Payout,
    PayoutMethodException,
    Reason,
    RefundDocument,
    RefundRequest,
    State,
    TransitionLog,
)
from januscaler_refunds.refunds.prepared import PreparedGet

Actor = AbstractBaseUser | AnonymousUser | None


class TransitionRefused(Exception):
    """A write was refused. ``rule`` names the rule, ``message`` says it in plain words."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{message} [{rule}]")
        self.rule = rule
        self.message = message


# --- helpers -----------------------------------------------------------------------


def actor_label(actor: Actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "system"
    return str(actor.get_username())


def _user_or_none(actor: Actor) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _require_perm(actor: Actor, perm: str, rule: str, what: str) -> None:
    if actor is None:  # the system itself (tasks, intake) acts with full authority
        return
    if not actor.has_perm(perm):  # type: ignore[union-attr]
        raise TransitionRefused(rule, f"You do not have permission to {what}.")


def _locked(request: RefundRequest, *, decision: bool = False, settlement: bool = False) -> RefundRequest:
    """Re-read the request under a row lock so two racing transitions serialise.

    The second one waits, then sees the state the first one left and is refused. The evaluation
    JSON (~4.6 KB, TOASTed) is left out: no transition reads it, and reading it cost a fifth of
    an approval at 1M requests (issue 14). ``_run_transition`` saves only what changed since.

    The request, its invoice and its customer are locked (as before); the policy version is read
    but not locked. ``decision=True`` (approve, history import) also reads, in the same query, what
    the approval's rules need: the agents' approval limit for the request's currency and, on
    PostgreSQL, the company holidays for the payout-due calendar (``_calendar``). ``settlement=True``
    reads whether a payout or credit exists. The query is compiled once per thread
    (``refunds.prepared``): compiling it cost more CPU than running it.
    """
    locked = _LOCKS[(decision, settlement)].get(request.pk)
    locked._values_when_locked = _field_values(locked)  # type: ignore[attr-defined]
    return locked


def _lock_queryset(*, decision: bool, settlement: bool) -> QuerySet[RefundRequest]:
    queryset = (
        RefundRequest.objects.select_for_update(of=("self", "invoice", "customer"))
        .select_related("invoice", "customer", "policy_version")
        .defer("evaluation")
    )
    if decision:
        queryset = queryset.annotate(
            locked_agent_limit=Subquery(
                ApprovalLimit.objects.filter(currency=OuterRef("currency")).values("agent_limit")[:1]
            )
        )
        if connection.vendor == "postgresql":
            queryset = queryset.annotate(
                locked_company_holidays=ArraySubquery(CompanyHoliday.objects.order_by().values("date"))
            )
    if settlement:
        queryset = queryset.annotate(
            locked_has_payout=Exists(Payout.objects.filter(request=OuterRef("pk"))),
            locked_has_credit=Exists(AccountCredit.objects.filter(request=OuterRef("pk"))),
        )
    return queryset


_LOCKS: dict[tuple[bool, bool], PreparedGet[RefundRequest]] = {
    (decision, settlement): PreparedGet(partial(_lock_queryset, decision=decision, settlement=settlement))
    for decision in (False, True)
    for settlement in (False, True)
}


def _calendar(request: RefundRequest) -> BusinessCalendar:
    """The business-day calendar for a request locked with ``decision=True``.

    The company holidays came with the lock (PostgreSQL; one query elsewhere); the calendar built
    from them is shared within the process for as long as the set is the same
    (``policy.calendar.calendar_with``), so a holiday a manager adds counts from the next decision.
    """
    days = getattr(request, "locked_company_holidays", None)
    if days is None:
        days = CompanyHoliday.objects.values_list("date", flat=True)
    return calendar_with(days)


def _field_values(request: RefundRequest) -> dict[str, Any]:
    """The loaded columns' values; JSON lists and dicts are copied (they change in place), the rest
    (str, Decimal, date, datetime, int, None) is immutable and kept as it is."""
    deferred = request.get_deferred_fields()
    values: dict[str, Any] = {}
    for f in request._meta.concrete_fields:
        if f.attname in deferred:
            continue
        value = getattr(request, f.attname)
        values[f.attname] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value
    return values


def _save_changes(request: RefundRequest) -> None:
    """Save the fields the service and the transition changed (all of them if not read by _locked)."""
    before = getattr(request, "_values_when_locked", None)
    if before is None:
        request.save()
        return
    changed = [name for name, value in _field_values(request).items() if before.get(name) != value]
    request.save(update_fields=sorted({*changed, "state", "updated_at"}))
    request._values_when_locked = _field_values(request)  # type: ignore[attr-defined]


def _run_transition(
    request: RefundRequest,
    method_name: str,
    *,
    actor: Actor,
    note: str = "",
    args: tuple[Any, ...] = (),
    check_user_perm: bool = True,
    label: str | None = None,
) -> TransitionLog:
    method = getattr(request, method_name)
    from_state = request.state
    if not can_proceed(method, check_conditions=False):
        raise TransitionRefused(
            f"state_machine.{method_name}",
            f"{request.reference} is {request.get_state_display().lower()}; "
            f"'{method_name.replace('_', ' ')}' is not possible from that state.",
        )
    if not can_proceed(method):
        raise TransitionRefused(
            f"state_machine.{method_name}.conditions",
            f"The conditions for '{method_name.replace('_', ' ')}' are not met on {request.reference}.",
        )
    user = _user_or_none(actor)
    if check_user_perm and user is not None and not has_transition_perm(method, user):
        raise TransitionRefused(
            f"permission.{method_name}",
            f"You do not have permission to {method_name.replace('_', ' ')} refund requests.",
        )
    try:
        method(*args)
    except TransitionNotAllowed as exc:  # a condition changed between the checks and the call
        raise TransitionRefused(f"state_machine.{method_name}", str(exc)) from exc
    _save_changes(request)
    return TransitionLog.objects.create(
        request=request,
        at=timezone.now(),
        actor=user,
        actor_label=label or actor_label(actor),
        transition=method_name,
        from_state=from_state,
        to_state=request.state,
        note=note,
    )


def log_edit(request: RefundRequest, *, actor: Actor, transition: str, note: str) -> TransitionLog:
    """Log a change that keeps the state (a reason, documents, a payout-method exception)."""
    return TransitionLog.objects.create(
        request=request,
        at=timezone.now(),
        actor=_user_or_none(actor),
        actor_label=actor_label(actor),
        transition=transition,
        from_state=request.state,
        to_state=request.state,
        note=note,
    )


def _notify(request: RefundRequest, kind: str, **context: Any) -> None:
    """Queue a customer message after commit (so a rolled-back change sends nothing)."""
    from januscaler_refunds.refunds import notifications

    notifications.queue_customer_message(request=request, kind=kind, context=context)


def _snapshot_decision(request: RefundRequest) -> None:
    """Keep the invoice's method and amount paid as they were at the decision (section 4.3 checks)."""
    request.decided_payment_method = request.invoice.payment_method
    request.decided_amount_paid = request.invoice.amount_paid


def decided_payment_method(request: RefundRequest) -> str:
    # Requests decided before the snapshot existed fall back to the invoice.
    return request.decided_payment_method or request.invoice.payment_method


def policy_version_for(received_at: dt.datetime) -> PolicyVersion:
    received_on = timezone.localtime(received_at).date()
    version = PolicyVersion.objects.filter(effective_date__lte=received_on).order_by("-effective_date").first()
    if version is None:
        first = PolicyVersion.objects.order_by("effective_date").values_list("effective_date", flat=True).first()
        raise NoPolicyInForce(
            f"No refund policy was in force on {received_on:%Y-%m-%d}"
            + (f"; the first version takes effect on {first:%Y-%m-%d}." if first else "; no policy version exists.")
        )
    return version


# --- creation ------------------------------------------------------------------------


def refund_request_create(
    *,
    invoice: Invoice,
    reason: str,
    received_at: dt.datetime,
    requester_email: str,
    channel: str = Channel.ADMIN,
    message: str = "",
    requested_amount: Decimal | None = None,
    currency: str | None = None,
    actor: Actor = None,
    documents: Iterable[DocumentUpload] = (),
    thread_message_id: str = "",
    reference: str | None = None,
    acknowledge: bool = True,
    policy_versions: Sequence[PolicyVersion] | None = None,
    calendar: BusinessCalendar | None = None,
    history: evaluation.FactRows | None = None,
) -> RefundRequest:
    """Create a request, log it, attach its documents, evaluate it and acknowledge it after commit.

    A caller creating many requests (intake's ingest run) may pass what it already read:
    ``policy_versions`` (every version; the one in force is picked here), ``calendar``, and
    ``history``, the fact rows of the invoice and its customer as ``refunds.evaluation`` reads them
    for a request on that invoice (``document_count`` and ``pauses`` are filled in here). With
    ``history`` the request is evaluated before it is written (one INSERT with its evaluation, no
    UPDATE), its earlier unsettled request on the invoice comes from those rows, and its documents
    are written in one INSERT; the result is the same as without it (tests/intake/test_ingest_run.py).
    """
    if reason not in Reason.values:
        raise TransitionRefused("request.reason", f"Unknown reason {reason!r}; use one of {', '.join(Reason.values)}.")
    currency = currency or invoice.currency
    if currency != invoice.currency:
        raise TransitionRefused(
            "request.currency",
            f"The request is in {currency} but invoice {invoice.number} is in {invoice.currency}; "
            "amounts in different currencies cannot be compared.",
        )
    if requested_amount is not None and requested_amount < 0:
        raise TransitionRefused("request.requested_amount", "The requested amount cannot be negative.")
    try:
        # Replies go to this address: a CR/LF or a second address must never reach a mail header.
        validate_email(requester_email.strip())
    except ValidationError as exc:
        raise TransitionRefused(
            "request.requester_email", f"{requester_email.strip()[:80]!r} is not an email address."
        ) from exc
    if timezone.is_naive(received_at):
        raise TransitionRefused("request.received_at", "received_at must carry a time zone.")
    if reference is not None and (problem := references.imported_reference_error(reference)):
        raise TransitionRefused("request.reference", f"reference {problem}.")
    try:
        version = (
            policy_version_for(received_at)
            if policy_versions is None
            else _policy_version_in_force(received_at, policy_versions)
        )
    except NoPolicyInForce as exc:
        raise TransitionRefused("section_7.policy_version", str(exc)) from exc

    def new_row() -> RefundRequest:
        """The request's row, not saved; a new reference each time (a retry takes the next)."""
        return RefundRequest(
            reference=reference or references.next_reference(),
            customer=invoice.customer,
            invoice=invoice,
            requester_email=requester_email.strip().lower(),
            reason=reason,
            channel=channel,
            received_at=received_at,
            message=message,
            requested_amount=requested_amount,
            currency=currency,
            policy_version=version,
            thread_message_id=thread_message_id,
        )

    if history is not None:
        return _create_with_history(
            new_row=new_row, invoice=invoice, received_at=received_at, actor=actor, uploads=list(documents),
            retry=reference is None, acknowledge=acknowledge, calendar=calendar or evaluation.business_calendar(),
            history=history,
        )  # fmt: skip

    for attempt in range(5):
        try:
            with transaction.atomic():
                earlier_open = (
                    RefundRequest.objects.filter(invoice=invoice, state__in=UNSETTLED_STATES, received_at__lte=received_at)
                    .order_by("received_at", "id")
                    .first()
                )
                request = new_row()
                request.duplicate_of = earlier_open
                request.save(force_insert=True)
                _log_created(request, actor, timezone.now())
                documents_attach(request=request, uploads=documents, actor=actor)
                evaluation.evaluate_and_store(request)
                if acknowledge:
                    _notify(request, "acknowledgement")
                return request
        except IntegrityError:
            # Two creators took the same reference: take the next one.
            if reference is not None or attempt == 4:
                raise
    raise AssertionError("unreachable")


def _policy_version_in_force(received_at: dt.datetime, versions: Sequence[PolicyVersion]) -> PolicyVersion:
    """``policy_version_for`` over versions already read (effective dates are unique)."""
    received_on = timezone.localtime(received_at).date()
    in_force = [v for v in versions if v.effective_date <= received_on]
    if in_force:
        return max(in_force, key=lambda v: v.effective_date)
    first = min((v.effective_date for v in versions), default=None)
    raise NoPolicyInForce(
        f"No refund policy was in force on {received_on:%Y-%m-%d}"
        + (f"; the first version takes effect on {first:%Y-%m-%d}." if first else "; no policy version exists.")
    )


def _earliest_unsettled(rows: Iterable[Mapping[str, Any]], invoice_id: int, received_at: dt.datetime) -> int | None:
    """The id of the earliest unsettled request on the invoice received by ``received_at`` (a duplicate's original)."""
    earlier = [
        (row["received_at"], row["id"])
        for row in rows
        if row["invoice_id"] == invoice_id and row["state"] in UNSETTLED_STATES and row["received_at"] <= received_at
    ]
    return min(earlier)[1] if earlier else None


def _log_created(request: RefundRequest, actor: Actor, at: dt.datetime) -> TransitionLog:
    return TransitionLog.objects.create(
        request=request,
        at=at,
        actor=_user_or_none(actor),
        actor_label=actor_label(actor),
        transition="create",
        from_state="",
        to_state=request.state,
        note=f"Received by {request.get_channel_display().lower()}.",
    )


def _create_with_history(
    *,
    new_row: Callable[[], RefundRequest],
    invoice: Invoice,
    received_at: dt.datetime,
    actor: Actor,
    uploads: list[DocumentUpload],
    retry: bool,
    acknowledge: bool,
    calendar: BusinessCalendar,
    history: evaluation.FactRows,
) -> RefundRequest:
    """``refund_request_create`` with the history read by the caller (see there)."""
    from django.conf import settings

    for attempt in range(5):
        try:
            with transaction.atomic(), contextlib.ExitStack() as stack:
                request = new_row()
                request.duplicate_of_id = _earliest_unsettled(history.other_requests, invoice.pk, received_at)
                # Each upload read once into a temporary file (kept open until written), same
                # content kept once, as document_attach does.
                spooled: dict[str, tuple[DocumentUpload, documents.SpooledDocument]] = {}
                try:
                    for upload in uploads:
                        enforce = upload.source == RefundDocument.Source.ADMIN
                        document = stack.enter_context(
                            documents.spooled(upload, limit=settings.MAX_DOCUMENT_BYTES, enforce_allowlist=enforce)
                        )
                        spooled.setdefault(document.sha256, (upload, document))
                except documents.DocumentNotAccepted as exc:
                    raise TransitionRefused(exc.rule, exc.message) from exc
                accepted = sum(1 for _, doc in spooled.values() if doc.content_type in documents.ACCEPTED_TYPES)
                rows = dataclasses.replace(history, document_count=accepted, pauses=[])
                now = timezone.now()
                facts = evaluation.build_facts(
                    evaluation.request_row(request), rows,
                    policy=evaluation.policy_facts(request.policy_version), calendar=calendar,
                )
                result = evaluate_facts(facts, now=now)
                snapshot = result.to_dict()
                snapshot["evaluated_at"] = now.isoformat()
                evaluation.apply_result(request, result, snapshot, now)
                request.save(force_insert=True)
                _log_created(request, actor, now)
                _store_new_documents(request, list(spooled.values()), actor)
                if acknowledge:
                    _notify(request, "acknowledgement")
                return request
        except IntegrityError:
            # Two creators took the same reference: take the next one.
            if not retry or attempt == 4:
                raise
    raise AssertionError("unreachable")


def _store_new_documents(
    request: RefundRequest, spooled: list[tuple[DocumentUpload, documents.SpooledDocument]], actor: Actor
) -> None:
    """Write the files, then their rows in one INSERT; files already written go if a later one fails."""
    rows: list[RefundDocument] = []
    try:
        for upload, document in spooled:
            row = RefundDocument(
                request=request,
                name=safe_document_name(upload.name),
                content_type=document.content_type,
                size=document.size,
                sha256=document.sha256,
                source=upload.source,
                uploaded_by=_user_or_none(actor),
            )
            row.file.save(row.name, File(document.file), save=False)
            rows.append(row)
        RefundDocument.objects.bulk_create(rows)
    except Exception:
        for row in rows:
            row.file.delete(save=False)
        raise


def document_attach(
    *, request: RefundRequest, upload: DocumentUpload, actor: Actor = None, reevaluate: bool = True
) -> RefundDocument | None:
    """Attach a supporting document; the same content twice is kept once (by sha256).

    Agents' uploads (source ``admin``) must be an accepted type judged by content
    (``refunds.documents``); email and import attachments keep the intake's rules and are stored
    with their sniffed type, counting as documentation only when accepted. Every upload is read in
    chunks and refused as soon as it passes ``MAX_DOCUMENT_BYTES``; a refused one stores nothing.
    """
    from django.conf import settings

    enforce = upload.source == RefundDocument.Source.ADMIN
    try:
        with documents.spooled(upload, limit=settings.MAX_DOCUMENT_BYTES, enforce_allowlist=enforce) as spooled:
            if RefundDocument.objects.filter(request=request, sha256=spooled.sha256).exists():
                return None
            document = RefundDocument(
                request=request,
                name=safe_document_name(upload.name),
                content_type=spooled.content_type,
                size=spooled.size,
                sha256=spooled.sha256,
                source=upload.source,
                uploaded_by=_user_or_none(actor),
            )
            document.file.save(document.name, File(spooled.file), save=False)
            document.save()
    except documents.DocumentNotAccepted as exc:
        raise TransitionRefused(exc.rule, exc.message) from exc
    if reevaluate:
        evaluation.evaluate_and_store(request)
    return document


def _reevaluate_invoice_siblings(request: RefundRequest) -> None:
    """Sections 4.4, 5: a payout or credit lowers the cap of the other open requests on the same
    invoice (``cap_reduced_by_earlier_refunds``), so they are re-evaluated in the same transaction."""
    siblings = (
        RefundRequest.objects.open()
        .filter(invoice_id=request.invoice_id)
        .exclude(pk=request.pk)
        .order_by("pk")
        .select_for_update(of=("self",))
        .select_related("invoice", "customer", "policy_version")
    )
    for sibling in siblings:
        evaluation.evaluate_and_store(sibling)


# --- transitions -------------------------------------------------------------------------


def documents_attach(
    *, request: RefundRequest, uploads: Iterable[DocumentUpload], actor: Actor = None
) -> list[RefundDocument]:
    """Attach several documents, all or nothing, without re-evaluating (the caller does, once).

    Files reach storage before the transaction commits; when a later upload is refused the caller's
    transaction rolls back the rows, and this removes the files already written, so nothing stays.
    """
    added: list[RefundDocument] = []
    try:
        for upload in uploads:
            document = document_attach(request=request, upload=upload, actor=actor, reevaluate=False)
            if document is not None:
                added.append(document)
    except TransitionRefused:
        for document in added:
            document.file.delete(save=False)
        raise
    return added


def refund_request_start_review(*, request: RefundRequest, actor: Actor, assign: bool = True) -> RefundRequest:
    with transaction.atomic():
        request = _locked(request)
        if assign and _user_or_none(actor) is not None and request.assignee_id is None:
            request.assignee = actor  # type: ignore[assignment]
        _run_transition(request, "start_review", actor=actor)
    return request


def refund_request_assign(*, request: RefundRequest, actor: Actor, assignee: Any) -> RefundRequest:
    _require_perm(actor, "refunds.review_refundrequest", "permission.assign", "assign refund requests")
    with transaction.atomic():
        request = _locked(request)
        request.assignee = assignee
        request.save(update_fields=["assignee", "updated_at"])
        InternalNote.objects.create(
            request=request,
            author=_user_or_none(actor),
            body=f"Assigned to {assignee.get_username() if assignee else 'nobody'} by {actor_label(actor)}.",
        )
    return request


def refund_request_request_information(*, request: RefundRequest, actor: Actor, missing: str) -> RefundRequest:
    if not missing.strip():
        raise TransitionRefused("section_4_2.information_request", "Say what information the customer must send.")
    with transaction.atomic():
        request = _locked(request)
        _run_transition(request, "request_information", actor=actor, note=missing)
        InformationRequest.objects.create(
            request=request, requested_at=timezone.now(), requested_by=_user_or_none(actor), missing=missing
        )
        evaluation.evaluate_and_store(request)
        _notify(request, "information_request", missing=missing)
    return request


def refund_request_resume_review(*, request: RefundRequest, actor: Actor, note: str = "") -> RefundRequest:
    """The customer answered (intake calls this with actor=None) or an agent resumes the review."""
    # The state machine leaves this transition open to the system (intake); a person needs the
    # review permission, so finance cannot restart a review clock from the console.
    _require_perm(actor, "refunds.review_refundrequest", "permission.resume_review", "resume reviews")
    with transaction.atomic():
        request = _locked(request)
        _run_transition(request, "resume_review", actor=actor, note=note or "Information received.")
        InformationRequest.objects.filter(request=request, answered_at__isnull=True).update(answered_at=timezone.now())
        evaluation.evaluate_and_store(request)
    return request


def _approval_guards(request: RefundRequest, actor: Actor, amount: Decimal, override_reason: str) -> None:
    if amount <= 0:
        raise TransitionRefused("approve.amount", "The approved amount must be more than zero.")
    if request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO:
        _require_perm(
            actor,
            "refunds.grant_credit_refundrequest",
            "section_4_3.crypto_credit_only",
            "approve a crypto-paid request (section 4.3: only a manager may grant an account credit)",
        )
        if request.customer.identity_verified is False:
            raise TransitionRefused(
                "section_3.identity_verification_pending",
                "Identity verification is still pending; no credit can be granted until it is verified.",
            )
    refundable = request.refundable_amount
    if refundable is not None and amount > refundable:
        if not override_reason.strip():
            raise TransitionRefused(
                "approve.override_reason",
                f"{amount} {request.currency} is above the refundable amount {refundable} {request.currency}; "
                "a manager's override with a written reason is needed.",
            )
        _require_perm(
            actor,
            "refunds.override_refundrequest",
            "permission.override",
            f"approve above the refundable amount ({refundable} {request.currency})",
        )
    limit = _agent_limit(request)
    if limit is not None and amount > limit:
        _require_perm(
            actor,
            "refunds.approve_above_limit_refundrequest",
            "permission.approval_limit",
            f"approve more than the agents' limit of {limit} {request.currency}",
        )


def _agent_limit(request: RefundRequest) -> Decimal | None:
    """The agents' approval limit in the request's currency (None: no limit), read with the lock."""
    if hasattr(request, "locked_agent_limit"):
        limit: Decimal | None = request.locked_agent_limit
        return limit
    return ApprovalLimit.objects.filter(currency=request.currency).values_list("agent_limit", flat=True).first()


def _above_requested_guard(request: RefundRequest, amount: Decimal, *, confirmed: bool, reason: str) -> str:
    """Money guard: approving more than the customer asked for needs an explicit confirmation and a
    written reason (recorded in the log). Returns the log sentence; "" when within the request."""
    requested = request.requested_amount
    if requested is None or amount <= requested:
        return ""
    if not confirmed or not reason.strip():
        raise TransitionRefused(
            "approve.above_requested",
            f"{amount} {request.currency} is more than the customer asked for ({requested} {request.currency}); "
            "confirm approving above the requested amount and write why.",
        )
    return f" Above the requested {requested} {request.currency}: {reason.strip()}"


def refund_request_approve(
    *,
    request: RefundRequest,
    actor: Actor,
    amount: Decimal,
    override_reason: str = "",
    note: str = "",
    confirm_above_requested: bool = False,
    above_requested_reason: str = "",
) -> RefundRequest:
    with transaction.atomic():
        request = _locked(request, decision=True)
        _approval_guards(request, actor, amount, override_reason)
        above_requested = _above_requested_guard(
            request, amount, confirmed=confirm_above_requested, reason=above_requested_reason
        )
        now = timezone.now()
        request.approved_amount = amount
        if request.refundable_amount is not None and amount > request.refundable_amount:
            request.override_reason = override_reason.strip()
            request.overridden_by = _user_or_none(actor)
        request.decided_at = now
        request.decided_by = _user_or_none(actor)
        _snapshot_decision(request)
        request.decision_note = note
        request.decision_codes = list(request.evaluation_codes)
        request.payout_due_at = evaluation.payout_due(now, request.policy_version, _calendar(request))
        log_note = note or f"Approved {amount} {request.currency}."
        if request.override_reason:
            log_note += f" Override: {request.override_reason}"
        log_note += above_requested
        _run_transition(request, "approve", actor=actor, note=log_note)
        _notify(request, "decision")
    return request


def refund_request_deny(*, request: RefundRequest, actor: Actor, codes: list[str], message: str) -> RefundRequest:
    unknown = [c for c in codes if c not in REASON_CODES]
    if not codes:
        raise TransitionRefused("deny.codes", "Name at least one reason code for the denial.")
    if unknown:
        raise TransitionRefused("deny.codes", f"Unknown reason code(s): {', '.join(unknown)}.")
    if not message.strip():
        raise TransitionRefused("deny.message", "Write the message the customer will receive.")
    with transaction.atomic():
        request = _locked(request)
        request.decision_codes = list(codes)
        request.decision_note = message
        request.decided_at = timezone.now()
        request.decided_by = _user_or_none(actor)
        _snapshot_decision(request)
        _run_transition(request, "deny", actor=actor, note=f"{', '.join(codes)}: {message}")
        _notify(request, "decision")
    return request


def refund_request_withdraw(*, request: RefundRequest, actor: Actor, note: str = "") -> RefundRequest:
    # An agent withdraws on the customer's behalf; the system (intake) may do it without a user.
    _require_perm(actor, "refunds.review_refundrequest", "permission.withdraw", "withdraw requests")
    with transaction.atomic():
        request = _locked(request)
        request.decided_at = timezone.now()
        _run_transition(request, "withdraw", actor=actor, note=note or "Withdrawn by the customer.")
    return request


def _segregation_guard(request: RefundRequest, actor: Actor) -> None:
    user = _user_or_none(actor)
    if user is not None and request.decided_by_id is not None and request.decided_by_id == user.pk:
        raise TransitionRefused(
            "segregation_of_duties",
            "You approved this request, so someone else must record its payout or credit.",
        )


def _crypto_payout_guard(request: RefundRequest) -> None:
    if decided_payment_method(request) == Invoice.PaymentMethod.CRYPTO:
        raise TransitionRefused(
            "section_4_3.crypto_credit_only",
            "Crypto payments are never refunded to the payment method (section 4.3); record an account credit.",
        )


def _settlement_amount_guard(request: RefundRequest, amount: Decimal, kind: str) -> None:
    """payout (or credit) <= approved <= what the invoice had paid at the decision."""
    if amount <= 0 or (request.approved_amount is not None and amount > request.approved_amount):
        raise TransitionRefused(
            f"{kind}.amount", f"The {kind} must be more than 0 and at most the approved {request.approved_amount}."
        )
    paid = request.decided_amount_paid
    if kind == "payout" and paid is not None and amount > paid:
        raise TransitionRefused(
            "payout.above_paid", f"The payout cannot exceed the {paid} {request.currency} paid on the invoice."
        )


def _method_words(method: str) -> str:
    return str(dict(Payout.Method.choices).get(method, method)).lower()


def _original_method_guard(request: RefundRequest, method: str) -> str:
    """Section 4.3: refunds go to the invoice's original payment method; another method only with a
    manager's recorded exception for that method. Returns the log sentence; "" for the original."""
    if method not in Payout.Method.values:
        raise TransitionRefused("payout.method", f"Unknown payout method {method!r}.")
    original = decided_payment_method(request)  # the method at the decision, not the live invoice
    if method == original:
        return ""
    exception = PayoutMethodException.objects.filter(request=request).select_related("granted_by").first()
    if exception is None or exception.method != method:
        raise TransitionRefused(
            "section_4_3.original_payment_method",
            f"Refunds go to the original payment method, {dict(Invoice.PaymentMethod.choices).get(original, original).lower()} "
            f"(section 4.3); paying by {_method_words(method)} needs a manager's recorded exception for this request.",
        )
    who = exception.granted_by.get_username() if exception.granted_by else "a manager"
    return f" By {_method_words(method)} instead of the original method: exception by {who} ({exception.reason})."


def refund_request_record_payout(
    *,
    request: RefundRequest,
    actor: Actor,
    method: str,
    reference: str,
    amount: Decimal,
    paid_at: dt.datetime | None = None,
) -> RefundRequest:
    _require_perm(actor, "refunds.record_payout_refundrequest", "permission.record_payout", "record payouts")
    if not reference.strip():
        raise TransitionRefused("payout.reference", "Enter the payment processor's reference for the payout.")
    with transaction.atomic():
        request = _locked(request, settlement=True)
        if request.state != State.APPROVED:
            raise TransitionRefused(
                "state_machine.mark_paid", f"{request.reference} is {request.get_state_display().lower()}, not approved."
            )
        _crypto_payout_guard(request)
        _segregation_guard(request, actor)
        method_note = _original_method_guard(request, method)
        _settlement_amount_guard(request, amount, "payout")
        if request.locked_has_payout:  # type: ignore[attr-defined]
            raise TransitionRefused("payout.one_per_request", f"{request.reference} already has a payout.")
        Payout.objects.create(
            request=request,
            method=method,
            reference=reference.strip(),
            amount=amount,
            currency=request.currency,
            paid_at=paid_at or timezone.now(),
            recorded_by=_user_or_none(actor),
        )
        request.settled_at = paid_at or timezone.now()
        _run_transition(
            request, "mark_paid", actor=actor, note=f"Paid {amount} {request.currency} ({reference}).{method_note}"
        )
        _reevaluate_invoice_siblings(request)
        _notify(request, "payout_confirmation")
    return request


def refund_request_grant_credit(
    *, request: RefundRequest, actor: Actor, amount: Decimal, note: str = ""
) -> RefundRequest:
    _require_perm(actor, "refunds.record_payout_refundrequest", "permission.record_credit", "record account credits")
    with transaction.atomic():
        request = _locked(request, settlement=True)
        if request.state != State.APPROVED:
            raise TransitionRefused(
                "state_machine.mark_credited",
                f"{request.reference} is {request.get_state_display().lower()}, not approved.",
            )
        _segregation_guard(request, actor)
        if request.customer.identity_verified is False and request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO:
            raise TransitionRefused(
                "section_3.identity_verification_pending",
                "Identity verification is still pending; no credit is issued until it is verified.",
            )
        _settlement_amount_guard(request, amount, "credit")
        if request.locked_has_credit:  # type: ignore[attr-defined]
            raise TransitionRefused("credit.one_per_request", f"{request.reference} already has a credit.")
        AccountCredit.objects.create(
            request=request, amount=amount, currency=request.currency, note=note, granted_by=_user_or_none(actor)
        )
        request.settled_at = timezone.now()
        _run_transition(request, "mark_credited", actor=actor, note=note or f"Credited {amount} {request.currency}.")
        _reevaluate_invoice_siblings(request)
        _notify(request, "credit_confirmation")
    return request


def refund_request_change_reason(*, request: RefundRequest, actor: Actor, reason: str, note: str = "") -> RefundRequest:
    """An agent re-reads the request (e.g. finds a real ground in 'other'); logged and re-evaluated."""
    _require_perm(actor, "refunds.review_refundrequest", "permission.change_reason", "change a request's reason")
    if reason not in Reason.values:
        raise TransitionRefused("request.reason", f"Unknown reason {reason!r}.")
    with transaction.atomic():
        request = _locked(request)
        if request.state not in (State.SUBMITTED, State.UNDER_REVIEW, State.INFO_REQUESTED):
            raise TransitionRefused("request.reason", "The reason can only change before a decision.")
        old = request.reason
        if old == reason:
            return request
        request.reason = reason
        request.save(update_fields=["reason", "updated_at"])
        log_edit(request, actor=actor, transition="change_reason",
                 note=f"Reason changed from {old} to {reason}." + (f" {note}" if note else ""))
        evaluation.evaluate_and_store(request)
    return request


def refund_request_set_verified_overcharge(
    *, request: RefundRequest, actor: Actor, amount: Decimal | None
) -> RefundRequest:
    _require_perm(actor, "refunds.review_refundrequest", "permission.verify", "verify overcharges")
    if amount is not None and amount < 0:
        raise TransitionRefused("billing_error.verified_overcharge", "The verified overcharge cannot be negative.")
    with transaction.atomic():
        request = _locked(request)
        if request.state not in OPEN_STATES:
            raise TransitionRefused(
                "billing_error.verified_overcharge.open_only",
                f"{request.reference} is {request.get_state_display().lower()}; the verified overcharge can "
                "only change while the request is open (before a decision).",
            )
        request.verified_overcharge = amount
        request.save(update_fields=["verified_overcharge", "updated_at"])
        InternalNote.objects.create(
            request=request, author=_user_or_none(actor), body=f"Verified overcharge set to {amount}."
        )
        evaluation.evaluate_and_store(request)
    return request


def internal_note_add(*, request: RefundRequest, actor: Actor, body: str) -> InternalNote:
    """An internal note on a request (never sent to the customer)."""
    _require_perm(actor, "refunds.add_internalnote", "permission.add_note", "add internal notes")
    if not body.strip():
        raise TransitionRefused("note.body", "Write the note first.")
    return InternalNote.objects.create(request=request, author=_user_or_none(actor), body=body.strip())


def refund_request_reevaluate(*, request: RefundRequest, actor: Actor = None) -> RefundRequest:
    _require_perm(actor, "refunds.review_refundrequest", "permission.reevaluate", "re-evaluate requests")
    with transaction.atomic():
        request = _locked(request)
        evaluation.evaluate_and_store(request)
    return request


def refund_request_import_history(
    *,
    request: RefundRequest,
    actor: Actor,
    target: str,
    decided_at: dt.datetime | None,
    approved_amount: Decimal | None = None,
    paid_amount: Decimal | None = None,
    override_reason: str = "",
) -> RefundRequest:
    """Land a request from an older system in its recorded final state, logged as an import.

    The row meets the console's rules (issue 12, finding 2): the approval guards (amount, crypto
    only by a manager, above the refundable amount only with an override reason, approval limit),
    approved <= paid on the invoice, payout <= approved, crypto settled only as a credit, and the
    importing user stands in as the approver, so they cannot also record the payout or credit
    (segregation of duties). Only the system (``import_billing``, actor None) imports settled rows.
    """
    with transaction.atomic():
        request = _locked(request, decision=True)
        user = _user_or_none(actor)
        if target in (State.APPROVED, State.PAID, State.CREDITED):
            if approved_amount is None:
                raise TransitionRefused("import.approved_amount", f"A {target} request needs its approved amount.")
            _approval_guards(request, actor, approved_amount, override_reason)
            if approved_amount > request.invoice.amount_paid:
                raise TransitionRefused(
                    "import.approved_above_paid",
                    f"Approved {approved_amount} {request.currency} is more than the "
                    f"{request.invoice.amount_paid} {request.currency} paid on invoice {request.invoice.number}.",
                )
            request.approved_amount = approved_amount
            if request.refundable_amount is not None and approved_amount > request.refundable_amount:
                request.override_reason = override_reason.strip()
                request.overridden_by = user
        if target != State.WITHDRAWN:
            request.decided_by = user
            _snapshot_decision(request)
        request.decided_at = decided_at
        if target in (State.PAID, State.CREDITED):
            amount = paid_amount if paid_amount is not None else approved_amount
            assert amount is not None
            try:
                _segregation_guard(request, actor)
            except TransitionRefused as exc:
                raise TransitionRefused(
                    exc.rule,
                    f"{actor_label(actor)} would both approve and settle {request.reference}: import it as "
                    "approved and let someone else record the payout or credit, or import settled history as "
                    "the system (import_billing without --user).",
                ) from exc
            if target == State.PAID:
                _crypto_payout_guard(request)
            _settlement_amount_guard(request, amount, "payout" if target == State.PAID else "credit")
            request.settled_at = decided_at
            if target == State.PAID:
                Payout.objects.create(
                    request=request,
                    # Section 4.3: back to the original payment method.
                    method=request.invoice.payment_method,
                    reference=f"import:{request.reference}",
                    amount=amount,
                    currency=request.currency,
                    paid_at=decided_at or timezone.now(),
                    recorded_by=user,
                )
            else:
                AccountCredit.objects.create(
                    request=request,
                    amount=amount,
                    currency=request.currency,
                    note="Imported from the previous system.",
                    granted_by=user,
                )
        if target == State.APPROVED and decided_at is not None:
            request.payout_due_at = evaluation.payout_due(decided_at, request.policy_version, _calendar(request))
        _run_transition(
            request,
            "import_history",
            actor=actor,
            args=(target,),
            note=f"Imported in state {target} from the previous system.",
            check_user_perm=False,
            label=f"import by {actor_label(actor)}",
        )
        if target in (State.PAID, State.CREDITED):
            _reevaluate_invoice_siblings(request)
    return request


# Public map used by the admin to render transition buttons (label, service).
SERVICES: dict[str, Callable[..., RefundRequest]] = {
    "start_review": refund_request_start_review,
    "request_information": refund_request_request_information,
    "resume_review": refund_request_resume_review,
    "approve": refund_request_approve,
    "deny": refund_request_deny,
    "withdraw": refund_request_withdraw,
    "mark_paid": refund_request_record_payout,
    "mark_credited": refund_request_grant_credit,
}


def reevaluate_open_requests(*, customer_ids: Iterable[int] = (), services_changed: Iterable[str] = ()) -> int:
    """Facts changed (an invoice paid, a violation, usage, an incident): re-run open evaluations.

    Called by the billing admin and imports after they save facts; returns how many were re-run.
    """
    from django.db.models import Q
    from django.db.models.functions import Lower, Trim

    customer_ids = list(customer_ids)
    services_changed = [s for s in services_changed if s]
    if not customer_ids and not services_changed:
        return 0
    condition = Q(customer_id__in=customer_ids)
    if services_changed:
        # Service names compare case-insensitively (policy.sla.covers_service); a plan line naming no
        # service covers the whole Service, so it is affected by every incident.
        keys = {s.strip().lower() for s in services_changed}
        condition |= Q(reason=Reason.SERVICE_UNAVAILABILITY) & (Q(line_service__in=keys) | Q(line_service=""))
    # Chunks of requests, facts read per chunk in a fixed number of queries, each chunk committed
    # on its own (refunds.reevaluation): no transaction holds 100k row locks for minutes.
    ids = (
        RefundRequest.objects.open()
        .alias(line_service=Lower(Trim("invoice__lines__service")))
        .filter(condition)
        .order_by()
        .values_list("pk", flat=True)
        .distinct()
    )
    return reevaluation.reevaluate_requests(ids)
