"""The review console: the refund queue, the review page, manual intake, read-only records.

The admin shows and collects; every write is a call to ``refunds.services`` (see admin_views).
The state is never editable here, and neither is anything else on the request except through
the small forms on the review page, each of which calls its service.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from unfold.admin import ModelAdmin
from unfold.admin import checkbox as unfold_checkbox
from unfold.contrib.filters.admin import ChoicesDropdownFilter, DropdownFilter, RangeDateFilter
from unfold.decorators import action, display
from unfold.views import ChangeList as UnfoldChangeList

from januscaler_refunds import formatting
from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.refunds import admin_views as views
from januscaler_refunds.refunds import forms as f
from januscaler_refunds.refunds import queue, selectors, services
from januscaler_refunds.refunds.admin_filters import (
    QUEUE_PAGE_FLAG,
    MessageKindFilter,
    OpenClosedFilter,
    TransitionFilter,
    queue_views,
)
from januscaler_refunds.refunds.models import (
    AccountCredit,
    ApprovalLimit,
    CustomerMessage,
    Payout,
    RefundRequest,
    Transition,
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

# unfold's label badge (unfold/helpers/label.html), written out once: the queue renders three per
# row, and a template render per badge was most of the page's Python time at 1M requests (issue 14).
_BADGE = "inline-block font-semibold rounded-default text-[11px] uppercase whitespace-nowrap h-6 leading-6 px-2"
BADGE_CLASSES = {
    "info": f"{_BADGE} bg-blue-100 text-blue-700 dark:bg-blue-500/20 dark:text-blue-400",
    "danger": f"{_BADGE} bg-red-100 text-red-700 dark:bg-red-500/20 dark:text-red-400",
    "warning": f"{_BADGE} bg-orange-100 text-orange-700 dark:bg-orange-500/20 dark:text-orange-400",
    "success": f"{_BADGE} bg-green-100 text-green-700 dark:bg-green-500/20 dark:text-green-400",
    "primary": f"{_BADGE} bg-primary-100 text-primary-700 dark:bg-primary-500/20 dark:text-primary-400",
    "": f"{_BADGE} bg-base-500/8 text-base-700 dark:bg-base-500/20 dark:text-base-200",
}


def badge(colour: str, text: str) -> str:
    """One coloured label, as unfold draws it, without a template."""
    return format_html('<span class="{}">{}</span>', BADGE_CLASSES.get(colour, BADGE_CLASSES[""]), text)


_PK_SLOT = "__jc_pk__"
_CHECKBOX = str(unfold_checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PK_SLOT))


# --- filters -----------------------------------------------------------------------------


class DeadlineStatusFilter(DropdownFilter):
    """Review deadline rated today from the due dates (never the scan's stored columns)."""

    title = "review deadline"
    parameter_name = "deadline"
    kind = "review"
    options = [("ok", "OK"), ("near", "Near (≤ 2 business days)"), ("overdue", "Overdue"), ("paused", "Paused")]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return self.options

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
        if self.value() in {value for value, _ in self.options}:
            return queryset.filter(
                selectors.deadline_status_filter(self.value(), kind=self.kind, clock=queue.request_clock(request))
            )
        return queryset


class PayoutDeadlineFilter(DeadlineStatusFilter):
    title = "payout deadline"
    parameter_name = "payout_deadline"
    kind = "payout"
    options = DeadlineStatusFilter.options[:3]


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
        for suffix, lookup, days in (("_from", "gte", 0), ("_to", "lt", 1)):
            value = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if isinstance(value, str) and value:
                parsed = parse_date_str(value)
                if parsed is None:
                    return None
                # A range on the column itself (midnight to midnight, company time), not on its
                # __date, so the received_at index serves it (issue 14).
                midnight = timezone.make_aware(dt.datetime.combine(parsed + dt.timedelta(days=days), dt.time.min))
                filters[f"{self.parameter_name}__{lookup}"] = midnight
        return queryset.filter(**filters)


queue.cache_unfold_result_headers()
queue.use_fast_rows()


class QueueChangeList(UnfoldChangeList):
    draws_rows_fast = True  # queue.fast_rows: the cells without unfold's per-cell work

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # Business days left for the whole page with one clock (shared with the deadline filter).
        selectors.attach_deadlines(self.result_list, clock=queue.request_clock(request))


# --- the queue and the review page ----------------------------------------------------------


@admin.register(RefundRequest)
class RefundRequestAdmin(ModelAdmin):
    # Fits 1440 px with the sidebar: the invoice and reason sit under the customer's name.
    list_display = [
        "reference",
        "customer_display",
        "state_badge",
        "recommendation_badge",
        "amounts",
        "days_left",
        "assignee_display",
    ]
    list_display_links = ["reference"]
    list_select_related = ["customer", "invoice", "assignee", "policy_version"]
    list_filter = [
        OpenClosedFilter,
        ("state", ChoicesDropdownFilter),
        ("reason", ChoicesDropdownFilter),
        ("recommendation", ChoicesDropdownFilter),
        DeadlineStatusFilter,
        PayoutDeadlineFilter,
        AssigneeFilter,
        ("invoice__payment_method", ChoicesDropdownFilter),
        ("received_at", ReceivedDateRangeFilter),
    ]
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ["reference", "invoice__number", "customer__email", "customer__name", "requester_email"]
    search_help_text = "Reference, invoice number or email (exact or the start), or part of a customer's name"
    ordering = queue.QUEUE_ORDERING
    show_full_result_count = False
    paginator = queue.EstimatedCountPaginator
    list_per_page = 50
    autocomplete_fields = ["invoice"]
    actions = ["assign_to_me", "assign_to", "reevaluate"]
    change_form_template = "admin/refunds/refundrequest/review.html"
    change_list_template = "admin/refunds/refundrequest/change_list.html"
    list_before_template = "admin/refunds/refundrequest/queue_views.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundRequest]:
        return selectors.queue_queryset(super().get_queryset(request))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """The request with its payout-method exception, read once per page view (the review page
        asks for it in ``change_view`` and again in the admin's ``changeform_view``)."""
        cache = request.__dict__.setdefault("_jc_objects", {})
        key = (object_id, from_field)
        if request.method != "GET" or key not in cache:
            queryset = self.get_queryset(request).select_related("payout_method_exception")
            field = self.model._meta.pk if from_field is None else self.model._meta.get_field(from_field)
            try:
                cache[key] = queryset.get(**{field.name: field.to_python(object_id)})
            except (self.model.DoesNotExist, ValidationError, ValueError):
                cache[key] = None
        return cache[key]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QueueChangeList

    def get_paginator(self, request: HttpRequest, queryset: Any, per_page: int, orphans: int = 0,
                      allow_empty_first_page: bool = True) -> Any:
        paginator = queue.EstimatedCountPaginator(queryset, per_page, orphans, allow_empty_first_page)
        paginator.exact = bool(request.GET.get("q"))
        return paginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RefundRequest], search_term: str
    ) -> tuple[QuerySet[RefundRequest], bool]:
        return queue.search(queryset, search_term), False

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
        return format_html(
            '{}<br><span class="jc-muted">{} · {}</span>', obj.customer.name, obj.invoice.number, obj.get_reason_display()
        )

    @display(description="State", ordering="state")
    def state_badge(self, obj: RefundRequest) -> str:
        return badge(STATE_COLOURS.get(obj.state, ""), obj.get_state_display())

    @display(description="Recommendation", ordering="recommendation")
    def recommendation_badge(self, obj: RefundRequest) -> str:
        return badge(RECOMMENDATION_COLOURS.get(obj.recommendation, ""), obj.get_recommendation_display() or "—")

    @display(description="Requested / refundable")
    def amounts(self, obj: RefundRequest) -> str:
        requested = formatting.number(obj.requested_amount, obj.currency)
        refundable = formatting.number(obj.refundable_amount, obj.currency)
        return f"{requested} / {refundable} {obj.currency}"

    @display(description="Assignee", ordering="assignee__username")
    def assignee_display(self, obj: RefundRequest) -> str:
        if obj.assignee is None:
            return mark_safe('<span class="jc-muted">Unassigned</span>')
        return obj.assignee.get_username()

    # The review deadline while open, the payout deadline while approved (selectors.attach_deadlines).
    @display(description="Business days left", ordering="review_due_at")
    def days_left(self, obj: RefundRequest) -> str:
        deadline = getattr(obj, "console_deadline", None)
        if deadline is None:
            return "—"
        if deadline.status == "paused":
            text = "paused"
        elif deadline.status == "overdue":
            text = f"{deadline.overdue_by} overdue" if deadline.overdue_by else "overdue"
        else:
            text = str(deadline.days_left)
        return badge(DEADLINE_COLOURS.get(deadline.status, ""), text)

    # A plain string per row instead of unfold's checkbox widget (a template render per row);
    # the same markup and header (select all), the pk filled in.
    @display(description=ModelAdmin.action_checkbox.short_description)
    def action_checkbox(self, obj: RefundRequest) -> str:
        return mark_safe(_CHECKBOX.replace(_PK_SLOT, str(int(obj.pk))))

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
        extra_context = {**(extra_context or {}), **queue_views(request)}
        setattr(request, QUEUE_PAGE_FLAG, True)  # open requests by default, on this page only
        if request.user.has_perm("refunds.export_refundrequest"):
            base = reverse("reports:refund_export")
            query = [(k, v) for k, values in request.GET.lists() for v in values if k not in {"p", "o"}]
            if "status" not in request.GET and "state__exact" not in request.GET:
                query.append(("status", "open"))  # export what the page shows
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
            page = selectors.review_page(refund)
            extra_context = {
                **(extra_context or {}),
                **page,
                **views.review_extras(refund, page),
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


class RequestLinkMixin:
    """The request column of the records below: its reference, linked to the review page."""

    @display(description="Request", ordering="request__reference")
    def request_ref(self, obj: Any) -> str:
        return formatting.request_link(obj.request_id, obj.request.reference)

    @display(description="Amount", ordering="amount")
    def amount_display(self, obj: Any) -> str:
        return formatting.money(obj.amount, obj.currency)


@admin.register(TransitionLog)
class TransitionLogAdmin(RequestLinkMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["at", "request_ref", "transition_display", "from_state", "to_state", "actor_label"]

    @display(description="What happened", ordering="transition")
    def transition_display(self, obj: TransitionLog) -> str:
        return str(dict(Transition.choices).get(obj.transition, obj.transition))
    list_select_related = ["request"]
    list_filter = [TransitionFilter, "to_state"]
    search_fields = ["request__reference", "actor_label", "note"]
    show_full_result_count = False


@admin.register(Payout)
class PayoutAdmin(RequestLinkMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["request_ref", "method", "reference", "amount_display", "paid_at", "recorded_by"]
    list_display_links = ["amount_display"]  # the reference links to the review page (no nested links)
    list_select_related = ["request", "recorded_by"]
    list_filter = ["method", "currency"]
    search_fields = ["request__reference", "reference"]


@admin.register(AccountCredit)
class AccountCreditAdmin(RequestLinkMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["request_ref", "amount_display", "granted_by", "created_at"]
    list_display_links = ["amount_display"]
    list_select_related = ["request", "granted_by"]
    search_fields = ["request__reference"]


@admin.register(CustomerMessage)
class CustomerMessageAdmin(RequestLinkMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "request_ref", "direction", "kind_display", "to_email", "subject", "status", "attempts"]
    list_select_related = ["request"]
    list_filter = ["direction", MessageKindFilter, "status"]

    @display(description="Kind", ordering="kind")
    def kind_display(self, obj: CustomerMessage) -> str:
        return obj.kind_label
    search_fields = ["request__reference", "to_email", "subject"]
    show_full_result_count = False


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(ModelAdmin):
    """Managers set how much an agent may approve per currency (services enforce it)."""

    list_display = ["currency", "agent_limit", "updated_at"]
