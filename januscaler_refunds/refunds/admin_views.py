"""The review console's own admin views: transition buttons and the small edits on the review page.

Each view is POST-only (CSRF-checked by the middleware), re-checks on the server what the page
showed (the transition exists from the current state and the user holds its permission), then
calls one service. A refusal — a policy rule, a permission, or a concurrent change — is shown
as an error message and changes nothing. No business rule lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from januscaler_refunds.refunds import forms as f
from januscaler_refunds.refunds import review_services, services
from januscaler_refunds.refunds.models import RefundDocument, RefundRequest, State
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
    # The rule behind ``visible``, said to someone whose (forged or stale) POST it refuses.
    hidden_because: str = ""


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
        hidden_because="resuming a review needs the review permission (billing agents and managers)",
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
        hidden_because="it was paid by cryptocurrency, so approving it grants an account credit "
        "(section 4.3), which only a billing manager may do",
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
        hidden_because="it was paid by cryptocurrency, which is settled as an account credit, not a payout (section 4.3)",
    ),
    ConsoleAction(
        "mark_credited", "Grant credit", f.GrantCreditForm,
        lambda r, u, d: services.refund_request_grant_credit(request=r, actor=u, amount=d["amount"], note=d["note"]),
        variant="primary", submit="Record credit",
        visible=lambda r, u: _crypto(r),
        hidden_because="it was not paid by cryptocurrency, so it is refunded by a payout, not a credit (section 4.3)",
    ),
    ConsoleAction(
        "withdraw", "Withdraw", f.NoteForm,
        lambda r, u, d: services.refund_request_withdraw(request=r, actor=u, note=d["note"]),
        submit="Withdraw request",
        visible=lambda r, u: u.has_perm("refunds.review_refundrequest"),
        hidden_because="withdrawing needs the review permission (billing agents and managers)",
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


def who_may(perm: str) -> str:
    """The roles (groups) holding ``perm``, for "who can do it instead" in a refusal."""
    from django.contrib.auth.models import Group

    app_label, _, codename = perm.partition(".")
    names = list(
        Group.objects.filter(permissions__codename=codename, permissions__content_type__app_label=app_label)
        .order_by("name").values_list("name", flat=True)
    )
    return " or ".join(names) if names else "an administrator"


def refusal(action: ConsoleAction, refund: RefundRequest, user: Any) -> str:
    """Why ``action`` is not open to ``user`` on ``refund``: the one rule that refuses it."""
    meta = getattr(RefundRequest, action.name)._django_fsm
    state = refund.get_state_display().lower()
    if not meta.has_transition(refund.state):
        sources = [str(State(s).label).lower() for s in meta.transitions if s in State.values]
        return (
            f"{refund.reference} is {state}; {action.label.lower()} is possible only while a request is "
            f"{' or '.join(sources)}."
        )
    transition = meta.get_transition(refund.state)
    perm = getattr(transition, "permission", None)
    if isinstance(perm, str) and not user.has_perm(perm):
        return f"your role may not {action.label.lower()}; {who_may(perm)} can."
    if not action.visible(refund, user):
        return f"{refund.reference} cannot take this step: {action.hidden_because or 'it does not apply here'}."
    return "it is not open to you on this request."


def bound_forms(refund: RefundRequest, user: Any) -> list[tuple[ConsoleAction, f.TransitionForm]]:
    return [(action, action.form(refund=refund, user=user, auto_id=f"id_{action.name}_%s")) for action in available_actions(refund, user)]


def review_extras(refund: RefundRequest, page: dict[str, Any]) -> dict[str, Any]:
    """What the review page shows besides the selectors' data: its tabs and who logged it."""
    log = page.get("log") or []
    created = next((row for row in log if row.transition == "create"), None)
    return {
        "tabs": [
            ("evaluation", "Evaluation", None),
            ("history", "Customer history", None),
            ("documents", "Documents", len(page.get("documents") or [])),
            ("notes", "Notes", len(page.get("notes") or [])),
            ("messages", "Messages", len(page.get("customer_messages") or [])),
            ("log", "Log", len(log)),
        ],
        # Manual intake: name the person who logged it, not the channel ("admin").
        "intake_actor": created.actor_label if created is not None else "",
    }


# --- plumbing -------------------------------------------------------------------------------


def change_url(refund: RefundRequest | int) -> str:
    pk = refund.pk if isinstance(refund, RefundRequest) else refund
    return reverse("admin:refunds_refundrequest_change", args=[pk])


def _load(model_admin: Any, request: HttpRequest, object_id: str) -> RefundRequest:
    refund = get_object_or_404(RefundRequest.objects.select_related("invoice", "customer", "policy_version"), pk=object_id)
    if not model_admin.has_view_permission(request, refund):
        raise PermissionDenied(
            f"Seeing refund requests needs the view permission; {who_may('refunds.view_refundrequest')} have it."
        )
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

_EDIT_NAMES = {
    "change_reason_view": "Change reason",
    "overcharge_view": "Verified overcharge",
    "note_view": "Add note",
    "reevaluate_view": "Re-evaluate",
}


def post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """POST runs the view; any other method gets a page saying where the button is (a 405 with
    a body, not the empty one a browser shows as an error), and changes nothing."""

    @wraps(view)
    def wrapper(request: HttpRequest, object_id: str, *args: Any, model_admin: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            return view(request, object_id, *args, model_admin=model_admin, **kwargs)
        refund = _load(model_admin, request, object_id)
        name = kwargs.get("name", "")
        action = ACTIONS_BY_NAME.get(name)
        if name and action is None:
            raise Http404(f"There is no step called {name!r} for a refund request.")
        what = action.label if action else _EDIT_NAMES.get(view.__name__, "This change")
        open_to_you = action is None or action in available_actions(refund, request.user)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"{what}: use the button on the review page",
            "refund": refund,
            "what": what,
            "is_transition": action is not None,
            "open_to_you": open_to_you,
            "refusal": "" if open_to_you or action is None else refusal(action, refund, request.user),
            "review_url": change_url(refund),
        }
        response = TemplateResponse(request, "admin/refunds/refundrequest/post_only.html", context, status=405)
        response["Allow"] = "POST"
        return response

    return wrapper



@post_only
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
        messages.error(request, f"{action.label} refused: {refusal(action, refund, request.user)}")
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


@post_only
def change_reason_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.ChangeReasonForm, "Change reason",
        lambda r, d: services.refund_request_change_reason(request=r, actor=request.user, reason=d["reason"], note=d["note"]),
        "Reason changed and the request re-evaluated.",
    )


@post_only
def overcharge_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.VerifiedOverchargeForm, "Verified overcharge",
        lambda r, d: services.refund_request_set_verified_overcharge(request=r, actor=request.user, amount=d["amount"]),
        "Verified overcharge saved and the request re-evaluated.",
    )


@post_only
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


@post_only
def documents_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.AddDocumentsForm, "Add documents",
        lambda r, d: review_services.refund_request_add_documents(
            request=r, actor=request.user, uploads=uploads_of(d["documents"])
        ),
        "Documents added and the request re-evaluated.",
        files=True,
    )


@post_only
def payout_method_view(request: HttpRequest, object_id: str, *, model_admin: Any) -> HttpResponse:
    return _edit(
        request, object_id, model_admin, f.PayoutMethodExceptionForm, "Payout method exception",
        lambda r, d: review_services.refund_request_allow_payout_method(
            request=r, actor=request.user, method=d["method"], reason=d["reason"]
        ),
        "Exception recorded: finance may now pay by that method.",
    )


@post_only
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
        # Previews (images and PDFs only, never HTML or SVG) are framed by the review page. The
        # site-wide CSP (frame-ancestors 'none', object-src 'none') would block the frame and
        # Chromium's PDF viewer, so a preview carries only the framing rule.
        response["X-Frame-Options"] = "SAMEORIGIN"
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response


PREVIEW_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def previewable(document: RefundDocument) -> bool:
    return document.content_type in PREVIEW_TYPES
