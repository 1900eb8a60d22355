"""The review console: the refund queue, the review page, manual intake, read-only records.

The admin shows and collects; every write is a call to ``refunds.services`` (see admin_views).
The state is never editable here, and neither is anything else on the request except through
the small forms on the review page, each of which calls its service.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter, RangeDateFilter
from unfold.decorators import action, display
from unfold.views import ChangeList as UnfoldChangeList

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.refunds import admin_views as views
from januscaler_refunds.refunds import forms as f
from januscaler_refunds.refunds import selectors, services
from januscaler_refunds.refunds.models import (
    AccountCredit,
    ApprovalLimit,
    CustomerMessage,
    Payout,
    RefundRequest,
    TransitionLog,
)
from januscaler_refunds.refunds.services import TransitionRefused

STATE_COLOURS = {
    "submitted": "info",
    "under_review": "primary",
    "info_requested": "warning",
    "approved": "success",
    "denied": "danger",
    "paid": "success",
    "credited": "success",
    "withdrawn": "",
}
RECOMMENDATION_COLOURS = {
    "approve": "success",
    "approve_partially": "primary",
    "deny": "danger",
    "needs_information": "warning",
    "credit_at_discretion": "info",
    "": "",
}
DEADLINE_COLOURS = {"ok": "success", "near": "danger", "overdue": "danger", "paused": "warning", "": ""}


# --- filters -----------------------------------------------------------------------------


class DeadlineStatusFilter(DropdownFilter):
    title = "deadline status"
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ok", "OK"), ("near", "Near (≤ 2 business days)"), ("overdue", "Overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
        if self.value() in {"ok", "near", "overdue"}:
            return queryset.filter(selectors.deadline_status_filter(self.value()))
        return queryset


class AssigneeFilter(DropdownFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        people = [(str(user.pk), user.get_username()) for user in selectors.agents()]
        return [("mine", "Mine"), ("unassigned", "Unassigned"), *people]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
        value = self.value()
        if value == "mine":
            # Only logged-in staff reach the queue (the admin site, or run_export replaying the
            # query of the staff user who asked for the export), never AnonymousUser.
            assert request.user.is_authenticated
            return queryset.filter(assignee=request.user)
        if value == "unassigned":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class ReceivedDateRangeFilter(RangeDateFilter):
    """Received between two company-time dates, both included (received_at is a date-time)."""

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        from unfold.utils import parse_date_str

        filters = {}
        for suffix, lookup in (("_from", "gte"), ("_to", "lte")):
            value = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if isinstance(value, str) and value:
                parsed = parse_date_str(value)
                if parsed is None:
                    return None
                filters[f"{self.parameter_name}__date__{lookup}"] = parsed
        return queryset.filter(**filters)


class QueueChangeList(UnfoldChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # Business days left for the whole page with one calendar (one query), not one per row.
        selectors.attach_deadlines(self.result_list)


# --- the queue and the review page ----------------------------------------------------------


@admin.register(RefundRequest)
class RefundRequestAdmin(ModelAdmin):
    list_display = [
        "reference",
        "customer_display",
        "invoice_display",
        "reason_display",
        "state_badge",
        "recommendation_badge",
        "amounts",
        "days_left",
        "assignee",
    ]
    list_display_links = ["reference"]
    list_select_related = ["customer", "invoice", "assignee", "policy_version"]
    list_filter = [
        ("state", ChoicesDropdownFilter),
        ("reason", ChoicesDropdownFilter),
        ("recommendation", ChoicesDropdownFilter),
        DeadlineStatusFilter,
        AssigneeFilter,
        ("invoice__payment_method", ChoicesDropdownFilter),
        ("received_at", ReceivedDateRangeFilter),
    ]
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ["reference", "invoice__number", "customer__email", "customer__name", "requester_email"]
    search_help_text = "Reference, invoice number, customer email or name"
    ordering = ["review_due_at", "received_at"]
    show_full_result_count = False
    list_per_page = 50
    autocomplete_fields = ["invoice"]
    actions = ["assign_to_me", "assign_to", "reevaluate"]
    change_form_template = "admin/refunds/refundrequest/review.html"
    change_list_template = "admin/refunds/refundrequest/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundRequest]:
        return selectors.queue_queryset(super().get_queryset(request))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QueueChangeList

    # Nothing on a request is edited through the stock form: the review page's own forms call
    # services, and the state only moves through transitions.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("refunds.review_refundrequest")

    # --- columns -------------------------------------------------------------------------

    @display(description="Customer", ordering="customer__name")
    def customer_display(self, obj: RefundRequest) -> str:
        return obj.customer.name

    @display(description="Invoice", ordering="invoice__number")
    def invoice_display(self, obj: RefundRequest) -> str:
        return obj.invoice.number

    @display(description="Reason", ordering="reason")
    def reason_display(self, obj: RefundRequest) -> str:
        return obj.get_reason_display()

    @display(description="State", ordering="state", label=STATE_COLOURS)
    def state_badge(self, obj: RefundRequest) -> tuple[str, str]:
        return obj.state, obj.get_state_display()

    @display(description="Recommendation", ordering="recommendation", label=RECOMMENDATION_COLOURS)
    def recommendation_badge(self, obj: RefundRequest) -> tuple[str, str]:
        return obj.recommendation, obj.get_recommendation_display() or "—"

    @display(description="Requested / refundable")
    def amounts(self, obj: RefundRequest) -> str:
        requested = "—" if obj.requested_amount is None else f"{obj.requested_amount:,.2f}"
        refundable = "—" if obj.refundable_amount is None else f"{obj.refundable_amount:,.2f}"
        return f"{requested} / {refundable} {obj.currency}"

    @display(description="Business days left", ordering="review_due_at", label=DEADLINE_COLOURS)
    def days_left(self, obj: RefundRequest) -> tuple[str, str]:
        deadline = getattr(obj, "console_deadline", None)
        if deadline is None:
            return "", "—"
        if deadline.status == "paused":
            return "paused", "paused"
        if deadline.status == "overdue":
            return "overdue", f"{deadline.overdue_by} overdue" if deadline.overdue_by else "overdue"
        return deadline.status, str(deadline.days_left)

    # --- list actions -------------------------------------------------------------------

    @action(description="Assign to me", permissions=["review"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        self._assign(request, queryset, request.user)

    @action(description="Assign to…", permissions=["review"])
    def assign_to(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> HttpResponse | None:
        form = f.AssignForm(request.POST if "apply" in request.POST else None, agents=selectors.agents())
        if form.is_bound and form.is_valid():
            self._assign(request, queryset, form.cleaned_data["assignee"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Assign refund requests",
            "opts": self.model._meta,
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/refunds/refundrequest/assign_to.html", context)

    @action(description="Re-evaluate", permissions=["review"])
    def reevaluate(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        done, refused = 0, []
        for refund in queryset:
            try:
                services.refund_request_reevaluate(request=refund, actor=request.user)
                done += 1
            except TransitionRefused as exc:
                refused.append(f"{refund.reference}: {exc.message}")
        self._report(request, f"{done} re-evaluated", refused)

    def _assign(self, request: HttpRequest, queryset: QuerySet[RefundRequest], assignee: Any) -> None:
        done, refused = 0, []
        for refund in queryset:
            try:
                services.refund_request_assign(request=refund, actor=request.user, assignee=assignee)
                done += 1
            except TransitionRefused as exc:
                refused.append(f"{refund.reference}: {exc.message}")
        self._report(request, f"{done} assigned to {assignee.get_username()}", refused)

    def _report(self, request: HttpRequest, summary: str, refused: list[str]) -> None:
        if refused:
            messages.error(request, f"{summary} ({len(refused)} refused): " + "; ".join(refused))
        else:
            messages.success(request, f"{summary}.")

    # --- pages ----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Any) -> Any:
            return self.admin_site.admin_view(partial(view, model_admin=self))

        info = "refunds_refundrequest"
        return [
            path("<int:object_id>/transition/<str:name>/", wrap(views.transition_view), name=f"{info}_transition"),
            path("<int:object_id>/reason/", wrap(views.change_reason_view), name=f"{info}_reason"),
            path("<int:object_id>/overcharge/", wrap(views.overcharge_view), name=f"{info}_overcharge"),
            path("<int:object_id>/note/", wrap(views.note_view), name=f"{info}_note"),
            path("<int:object_id>/reevaluate/", wrap(views.reevaluate_view), name=f"{info}_reevaluate"),
            path("<int:object_id>/documents/add/", wrap(views.documents_view), name=f"{info}_documents"),
            path("<int:object_id>/payout-method/", wrap(views.payout_method_view), name=f"{info}_payout_method"),
            path(
                "<int:object_id>/documents/<int:document_id>/",
                wrap(views.document_view),
                name=f"{info}_document",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = extra_context or {}
        if request.user.has_perm("refunds.export_refundrequest"):
            base = reverse("reports:refund_export")
            query = [(k, v) for k, values in request.GET.lists() for v in values if k not in {"p", "o"}]
            extra_context["export_links"] = [
                (label, f"{base}?{urlencode([*query, ('format', fmt)])}") for label, fmt in (("Export CSV", "csv"), ("Export XLSX", "xlsx"))
            ]
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        refund = self.get_object(request, object_id)
        if refund is not None and self.has_view_permission(request, refund):
            user = request.user
            may_review = user.has_perm("refunds.review_refundrequest")
            editable = may_review and refund.state in selectors.OPEN_STATES
            extra_context = {
                **(extra_context or {}),
                **selectors.review_page(refund),
                "refund": refund,
                "actions": views.bound_forms(refund, user),
                "may_review": may_review,
                "is_open": refund.state in selectors.OPEN_STATES,
                "may_note": user.has_perm("refunds.add_internalnote"),
                "reason_form": f.ChangeReasonForm(refund=refund, user=user, initial={"reason": refund.reason}) if editable else None,
                "overcharge_form": f.VerifiedOverchargeForm(
                    refund=refund, user=user, initial={"amount": refund.verified_overcharge}
                ) if editable and refund.reason == "billing_error" else None,
                "note_form": f.InternalNoteForm(refund=refund, user=user),
                "documents_form": f.AddDocumentsForm(refund=refund, user=user)
                if editable and user.has_perm("refunds.add_refunddocument") else None,
                "method_exception": getattr(refund, "payout_method_exception", None),
                "method_exception_form": f.PayoutMethodExceptionForm(refund=refund, user=user)
                if refund.state == "approved" and not refund.is_crypto
                and user.has_perm("refunds.add_payoutmethodexception") else None,
                "previewable_types": views.PREVIEW_TYPES,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Manual intake: log a request received by phone, post or another channel."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = f.ManualIntakeForm(
            request.POST or None,
            request.FILES or None,
            initial={"received_at": timezone.localtime()},
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                refund = services.refund_request_create(
                    invoice=data["invoice"],
                    reason=data["reason"],
                    received_at=data["received_at"],
                    requester_email=data["requester_email"],
                    channel="admin",
                    message=data["message"],
                    requested_amount=data["requested_amount"],
                    actor=request.user,
                    documents=views.uploads_of(data["documents"]),
                )
            except TransitionRefused as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"{refund.reference} logged and evaluated; the customer was acknowledged.")
                return HttpResponseRedirect(views.change_url(refund))
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": "Add refund request",
            "subtitle": "Manual intake",
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, "admin/refunds/refundrequest/intake.html", context)


# --- read-only records (written only by services) ----------------------------------------


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["at", "request", "transition", "from_state", "to_state", "actor_label"]
    list_select_related = ["request"]
    list_filter = ["transition", "to_state"]
    search_fields = ["request__reference", "actor_label", "note"]
    show_full_result_count = False


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["request", "method", "reference", "amount", "currency", "paid_at", "recorded_by"]
    list_select_related = ["request", "recorded_by"]
    list_filter = ["method", "currency"]
    search_fields = ["request__reference", "reference"]


@admin.register(AccountCredit)
class AccountCreditAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["request", "amount", "currency", "granted_by", "created_at"]
    list_select_related = ["request", "granted_by"]
    search_fields = ["request__reference"]


@admin.register(CustomerMessage)
class CustomerMessageAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "request", "direction", "kind", "to_email", "subject", "status", "attempts"]
    list_select_related = ["request"]
    list_filter = ["direction", "kind", "status"]
    search_fields = ["request__reference", "to_email", "subject"]
    show_full_result_count = False


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(ModelAdmin):
    """Managers set how much an agent may approve per currency (services enforce it)."""

    list_display = ["currency", "agent_limit", "updated_at"]
