"""The review console's own admin views: transition buttons and the small edits on the review page.

Each view is POST-only (CSRF-checked by the middleware), re-checks on the server what the page
showed (the transition exists from the current state and the user holds its permission), then
calls one service. A refusal — a policy rule, a permission, or a concurrent change — is shown
as an error message and changes nothing. No business rule lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from januscaler_refunds.refunds import forms as f
from januscaler_refunds.refunds import review_services, services
from januscaler_refunds.refunds.models import RefundDocument, RefundRequest
from januscaler_refunds.refunds.services import TransitionRefused

Service = Callable[[RefundRequest, Any, dict[str, Any]], RefundRequest]


@dataclass(frozen=True)
class ConsoleAction:
    """A transition button: the fsm transition it runs, the form it asks, the service it calls."""

    name: str
    label: str
    form: type[f.TransitionForm]
    run: Service
    variant: str = "default"  # "primary" | "danger" | "default"
    submit: str = "Confirm"
    # Extra visibility on top of "the transition exists from this state and the user may run it".
    visible: Callable[[RefundRequest, Any], bool] = lambda refund, user: True


def _crypto(refund: RefundRequest) -> bool:
    return refund.is_crypto


ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction(
        "start_review", "Start review", f.ConfirmForm,
        lambda r, u, d: services.refund_request_start_review(request=r, actor=u),
        variant="primary", submit="Claim and start review",
    ),
    ConsoleAction(
        "resume_review", "Resume review", f.NoteForm,
        lambda r, u, d: services.refund_request_resume_review(request=r, actor=u, note=d["note"]),
        variant="primary", submit="Resume review",
        # No fsm permission (intake resumes on the customer's answer); people need the review permission.
        visible=lambda r, u: u.has_perm("refunds.review_refundrequest"),
    ),
    ConsoleAction(
        "approve", "Approve", f.ApproveForm,
        lambda r, u, d: services.refund_request_approve(
            request=r, actor=u, amount=d["amount"], override_reason=d.get("override_reason", ""), note=d["note"],
            confirm_above_requested=d["confirm_above_requested"], above_requested_reason=d["above_requested_reason"],
        ),
        variant="primary", submit="Approve",
        # Section 4.3: approving a crypto-paid request means granting a credit, a manager's call.
        visible=lambda r, u: not _crypto(r) or u.has_perm("refunds.grant_credit_refundrequest"),
    ),
    ConsoleAction(
        "request_information", "Request information", f.RequestInformationForm,
        lambda r, u, d: services.refund_request_request_information(request=r, actor=u, missing=d["missing"]),
        submit="Send request",
    ),
    ConsoleAction(
        "deny", "Deny", f.DenyForm,
        lambda r, u, d: services.refund_request_deny(request=r, actor=u, codes=d["codes"], message=d["message"]),
        variant="danger", submit="Deny request",
    ),
    ConsoleAction(
        "mark_paid", "Record payout", f.RecordPayoutForm,
        lambda r, u, d: services.refund_request_record_payout(
            request=r, actor=u, method=d["method"], reference=d["reference"], amount=d["amount"]
        ),
        variant="primary", submit="Record payout",
        visible=lambda r, u: not _crypto(r),
    ),
    ConsoleAction(
        "mark_credited", "Grant credit", f.GrantCreditForm,
        lambda r, u, d: services.refund_request_grant_credit(request=r, actor=u, amount=d["amount"], note=d["note"]),
        variant="primary", submit="Record credit",
        visible=lambda r, u: _crypto(r),
    ),
    ConsoleAction(
        "withdraw", "Withdraw", f.NoteForm,
        lambda r, u, d: services.refund_request_withdraw(request=r, actor=u, note=d["note"]),
        submit="Withdraw request",
        visible=lambda r, u: u.has_perm("refunds.review_refundrequest"),
    ),
)
ACTIONS_BY_NAME = {action.name: action for action in ACTIONS}


def available_actions(refund: RefundRequest, user: Any) -> list[ConsoleAction]:
    """Transitions from the current state that this user may run.

    Conditions that the service itself establishes (an approved amount, a payout row) are not
    checked here; the services check them after taking the row lock.
    """
    out = []
    for action in ACTIONS:
        meta = getattr(RefundRequest, action.name)._django_fsm
        if meta.has_transition(refund.state) and meta.has_transition_perm(refund, refund.state, user) and action.visible(refund, user):
            out.append(action)
    return out


def bound_forms(refund: RefundRequest, user: Any) -> list[tuple[ConsoleAction, f.TransitionForm]]:
    return [(action, action.form(refund=refund, user=user, auto_id=f"id_{action.name}_%s")) for action in available_actions(refund, user)]


# --- plumbing -------------------------------------------------------------------------------


def change_url(refund: RefundRequest | int) -> str:
    pk = refund.pk if isinstance(refund, RefundRequest) else refund
    return reverse("admin:refunds_refundrequest_change", args=[pk])


def _load(model_admin: Any, request: HttpRequest, object_id: str) -> RefundRequest:
    refund = get_object_or_404(RefundRequest.objects.select_related("invoice", "customer", "policy_version"), pk=object_id)
    if not model_admin.has_view_permission(request, refund):
        raise PermissionDenied
    return refund


def _form_errors(form: Any) -> str:
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields and form.fields[field].label else field.replace("_", " ")
        parts.append(("" if field == "__all__" else f"{label}: ") + " ".join(errors))
    return "; ".join(parts)


def _call(request: HttpRequest, refund: RefundRequest, what: str, call: Callable[[], Any], success: str) -> HttpResponse:
    """Run a service; a refusal becomes an error message and nothing changes (the service rolled back)."""
    try:
        call()
    except TransitionRefused as exc:
        messages.error(request, f"{what} refused: {exc.message}")
    except PermissionDenied as exc:
        messages.error(request, f"{what} refused: {exc or 'you do not have permission.'}")
    else:
        messages.success(request, success)
    return HttpResponseRedirect(change_url(refund))


# --- views (wired by RefundRequestAdmin.get_urls, wrapped in admin_view) --------------------


@require_POST
def transition_view(request: HttpRequest, object_id: str, name: str, *, model_admin: Any) -> HttpResponse:
    refund = _load(model_admin, request, object_id)
    action = ACTIONS_BY_NAME.get(name)
    if action is None:
        raise Http404(f"No transition {name!r}")
    seen = request.POST.get("seen_state")
    if seen and seen != refund.state:
        messages.error(
            request,
            f"{action.label} refused: {refund.reference} changed while you had it open "
            f"(now {refund.get_state_display().lower()}). Nothing was changed; check the log and try again.",
        )
        return HttpResponseRedirect(change_url(refund))
    if action not in available_actions(refund, request.user):
        messages.error(
            request,
            f"{action.label} refused: not possible on {refund.reference} while it is "
            f"{refund.get_state_display().lower()}, or not permitted for your role.",
        )
        return HttpResponseRedirect(change_url(refund))
    form = action.form(request.POST, refund=refund, user=request.user)
    if not form.is_valid():
        messages.error(request, f"{action.label} refused: {_form_errors(form)}")
        return HttpResponseRedirect(change_url(refund))
    return _call(
        request, refund, action.label,
        lambda: action.run(refund, request.user, form.cleaned_data),
        f"{action.label}: done on {refund.reference}.",
    )


def _edit(
    request: HttpRequest,
    object_id: str,
    model_admin: Any,
    form_class: type[f.TransitionForm],
    what: str,
    call: Callable[[RefundRequest, dict[str, Any]], Any],
    success: str,
    files: bool = False,
) -> HttpResponse:
    """A small edit on the review page: validate its form, then one service call."""
    refund = _load(model_admin, request, object_id)
    form = form_class(request.POST, request.FILES if files else None, refund=refund, user=request.user)
    if not form.is_valid():
        messages.error(request, f"{what} refused: {_form_errors(form)}")
        return HttpResponseRedirect(change_url(refund))
    return _call(request, refund, what, lambda: call(refund, form.cleaned_data), success)


@require_POST
def change_reason_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.ChangeReasonForm, "Change reason",
        lambda r, d: services.refund_request_change_reason(request=r, actor=request.user, reason=d["reason"], note=d["note"]),
        "Reason changed and the request re-evaluated.",
    )


@require_POST
def overcharge_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.VerifiedOverchargeForm, "Verified overcharge",
        lambda r, d: services.refund_request_set_verified_overcharge(request=r, actor=request.user, amount=d["amount"]),
        "Verified overcharge saved and the request re-evaluated.",
    )


@require_POST
def note_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.InternalNoteForm, "Note",
        lambda r, d: services.internal_note_add(request=r, actor=request.user, body=d["body"]),
        "Note added.",
    )


def uploads_of(files: list[Any]) -> list[services.DocumentUpload]:
    """Uploaded files as documents read in chunks from where Django spooled them (never ``read()``
    whole: FILE_UPLOAD_MAX_MEMORY_SIZE keeps big uploads on disk)."""
    return [
        services.DocumentUpload(name=upload.name, file=upload, content_type=upload.content_type or "application/octet-stream")
        for upload in files
    ]


@require_POST
def documents_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.AddDocumentsForm, "Add documents",
        lambda r, d: review_services.refund_request_add_documents(
            request=r, actor=request.user, uploads=uploads_of(d["documents"])
        ),
        "Documents added and the request re-evaluated.",
        files=True,
    )


@require_POST
def payout_method_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.PayoutMethodExceptionForm, "Payout method exception",
        lambda r, d: review_services.refund_request_allow_payout_method(
            request=r, actor=request.user, method=d["method"], reason=d["reason"]
        ),
        "Exception recorded: finance may now pay by that method.",
    )


@require_POST
def reevaluate_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    refund = _load(model_admin, request, object_id)
    return _call(
        request, refund, "Re-evaluate",
        lambda: services.refund_request_reevaluate(request=refund, actor=request.user),
        f"{refund.reference} re-evaluated against the facts known now.",
    )


def document_view(request: HttpRequest, object_id: str, document_id: str, *, model_admin: Any) -> FileResponse:
    """Serve a document to people who may see the request (media is not public in production)."""
    refund = _load(model_admin, request, object_id)
    document = get_object_or_404(RefundDocument, pk=document_id, request=refund)
    inline = request.GET.get("inline") == "1" and previewable(document)
    response = FileResponse(
        document.file.open("rb"), as_attachment=not inline, filename=document.name, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        # Previews (images and PDFs only, never HTML or SVG) are framed by the review page.
        response["X-Frame-Options"] = "SAMEORIGIN"
    return response


PREVIEW_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def previewable(document: RefundDocument) -> bool:
    return document.content_type in PREVIEW_TYPES
