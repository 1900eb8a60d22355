"""Writes from the review page that are not transitions: adding documents to an open request, and a
manager's exception to the original payout method (section 4.3).

Kept beside ``services`` (which they build on: its guards, lock and log helpers) so that module stays
readable; the rules themselves live in the named guards there and in ``refunds.documents``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.refunds import evaluation
from januscaler_refunds.refunds.documents import DocumentUpload
from januscaler_refunds.refunds.models import (
    OPEN_STATES,
    Payout,
    PayoutMethodException,
    RefundDocument,
    RefundRequest,
    State,
)
from januscaler_refunds.refunds.services import (
    Actor,
    TransitionRefused,
    _locked,
    _method_words,
    _require_perm,
    _user_or_none,
    documents_attach,
    log_edit,
)


def refund_request_add_documents(
    *, request: RefundRequest, actor: Actor, uploads: Iterable[DocumentUpload]
) -> list[RefundDocument]:
    """An agent adds documents to an open request from its review page: all or nothing, logged,
    and the request re-evaluated (section 3: documentation may change the recommendation)."""
    _require_perm(actor, "refunds.add_refunddocument", "permission.add_documents", "add documents")
    uploads = list(uploads)
    if not uploads:
        raise TransitionRefused("documents.none", "Choose at least one document to add.")
    with transaction.atomic():
        request = _locked(request)
        if request.state not in OPEN_STATES:
            raise TransitionRefused(
                "documents.open_requests_only",
                f"{request.reference} is {request.get_state_display().lower()}; documents can only be "
                "added before a decision.",
            )
        added = documents_attach(request=request, uploads=uploads, actor=actor)
        names = ", ".join(doc.name for doc in added) or "nothing new (already attached)"
        log_edit(request, actor=actor, transition="add_documents", note=f"Documents added: {names}.")
        evaluation.evaluate_and_store(request)
    return added


def refund_request_allow_payout_method(
    *, request: RefundRequest, actor: Actor, method: str, reason: str
) -> PayoutMethodException:
    """Section 4.3 exception: a manager allows finance to pay one approved request by another method
    than the original one, with the reason; logged. Recording it again replaces it (and is logged)."""
    _require_perm(
        actor, "refunds.add_payoutmethodexception", "permission.payout_method_exception",
        "allow a payout by another method than the original one (managers only)",
    )
    if method not in Payout.Method.values:
        raise TransitionRefused("payout.method", f"Unknown payout method {method!r}.")
    if not reason.strip():
        raise TransitionRefused("section_4_3.exception_reason", "Write why the refund cannot go to the original method.")
    with transaction.atomic():
        request = _locked(request)
        if request.state != State.APPROVED:
            raise TransitionRefused(
                "section_4_3.exception_state",
                f"{request.reference} is {request.get_state_display().lower()}; an exception is for approved requests.",
            )
        if request.invoice.payment_method == Invoice.PaymentMethod.CRYPTO:
            raise TransitionRefused(
                "section_4_3.crypto_credit_only",
                "Crypto payments are never refunded to a payment method (section 4.3); grant an account credit.",
            )
        if method == request.invoice.payment_method:
            raise TransitionRefused("section_4_3.exception_method", "That is the original method; no exception is needed.")
        exception, _ = PayoutMethodException.objects.update_or_create(
            request=request,
            defaults={"method": method, "reason": reason.strip(), "granted_by": _user_or_none(actor),
                      "granted_at": timezone.now()},
        )
        log_edit(request, actor=actor, transition="allow_payout_method",
                 note=f"Payout by {_method_words(method)} allowed instead of the original method: {reason.strip()}")
    return exception
