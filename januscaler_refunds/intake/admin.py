"""Intake in the admin: received mail, the triage list, and imports with preview."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportMixin
from unfold.admin import ModelAdmin
from unfold.contrib.import_export.forms import ImportForm
from unfold.widgets import (
    UnfoldAdminEmailInputWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanWidget,
)

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.billing.models import Invoice
from januscaler_refunds.intake import services, triage
from januscaler_refunds.intake.models import (
    InboundMessage,
    MailboxHealth,
    RefundRequestImport,
    TriageItem,
)
from januscaler_refunds.intake.resources import RefundRequestResource
from januscaler_refunds.refunds.models import Reason, RefundRequest
from januscaler_refunds.refunds.services import TransitionRefused


class BillingImportMixin(ImportMixin):
    """django-import-export's admin import (upload -> preview -> confirm) in unfold's look.

    Importing needs both the add and the change permission on the model: an import creates and
    updates rows. The whole file is rolled back when one row is invalid (the resources' default).
    """

    import_form_class = ImportForm

    def has_import_permission(self, request: HttpRequest) -> bool:
        opts = self.model._meta  # type: ignore[attr-defined]
        return request.user.has_perms(
            [f"{opts.app_label}.add_{opts.model_name}", f"{opts.app_label}.change_{opts.model_name}"]
        )


@admin.register(InboundMessage)
class InboundMessageAdmin(ModelAdmin):
    list_display = ["received_at", "from_address", "subject", "outcome", "request", "source", "size"]
    list_filter = ["outcome", "source", "automated_kind"]
    list_select_related = ["request"]
    search_fields = ["subject", "from_address", "message_id", "invoice_number", "request__reference"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in InboundMessage._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # received mail is kept: nothing is lost


@admin.register(MailboxHealth)
class MailboxHealthAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Is the IMAP intake reading mail? A row with a problem means it is not (managers were emailed)."""

    list_display = [
        "mailbox", "problem", "consecutive_failures", "failing_since", "next_attempt_at",
        "last_success_at", "alerted_at", "detail",
    ]  # fmt: skip
    list_filter = ["problem"]


class AttachForm(forms.Form):
    invoice_number = forms.CharField(
        max_length=64, help_text="The invoice this message is about.", widget=UnfoldAdminTextInputWidget
    )
    as_reply = forms.BooleanField(
        required=False,
        label="Add to the invoice's open request",
        help_text="Instead of a new request.",
        widget=UnfoldBooleanWidget,
    )
    reason = forms.ChoiceField(choices=Reason.choices, required=False, widget=UnfoldAdminSelectWidget)
    requester_email = forms.EmailField(
        required=False, help_text="Blank: the sender.", widget=UnfoldAdminEmailInputWidget
    )
    note = forms.CharField(widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}), required=False)

    def clean_invoice_number(self) -> Invoice:
        invoice = services.find_invoice(self.cleaned_data["invoice_number"])
        if invoice is None:
            raise forms.ValidationError("No such invoice.")
        return invoice


class DiscardForm(forms.Form):
    note = forms.CharField(
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Why it is discarded.",
        error_messages={"required": "Say why the message is discarded."},
    )


@admin.register(TriageItem)
class TriageItemAdmin(ModelAdmin):
    list_display = ["created_at", "reason_explained", "sender", "subject", "status", "request", "resolve_links"]
    list_filter = ["status", "reason"]
    list_select_related = ["message", "request"]
    search_fields = ["message__subject", "message__from_address", "detail", "note"]
    readonly_fields = [
        "message", "reason", "detail", "status", "request", "invoice", "note", "created_at", "resolved_at",
        "resolved_by", "body",
    ]  # fmt: skip
    fields = readonly_fields
    actions = ["discard_as_noise"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.resolve_triageitem")

    @admin.display(description="Why in triage", ordering="reason")
    def reason_explained(self, item: TriageItem) -> str:
        return format_html(
            '<strong>{}</strong><br><span class="text-xs">{}</span>',
            item.get_reason_display(),
            triage.reason_help(item.reason).what,
        )

    @admin.display(description="From")
    def sender(self, item: TriageItem) -> str:
        return item.message.from_address

    @admin.display(description="Subject")
    def subject(self, item: TriageItem) -> str:
        return item.message.subject[:100]

    @admin.display(description="Body")
    def body(self, item: TriageItem) -> str:
        return item.message.body_text[:5000]

    @admin.display(description="")
    def resolve_links(self, item: TriageItem) -> str:
        if item.status != TriageItem.Status.OPEN:
            return ""
        return format_html(
            '<a class="triage-open" href="{}">Open the desk</a>',
            reverse("admin:intake_triageitem_change", args=[item.pk]),
        )

    def get_urls(self) -> list[Any]:
        extra = [
            path("<int:pk>/attach/", self.admin_site.admin_view(self.attach_view), name="intake_triageitem_attach"),
            path("<int:pk>/discard/", self.admin_site.admin_view(self.discard_view), name="intake_triageitem_discard"),
            path(
                "<int:pk>/attach-matched/",
                self.admin_site.admin_view(self.attach_matched_view),
                name="intake_triageitem_attach_matched",
            ),
        ]
        return extra + super().get_urls()

    def _form_page(self, request: HttpRequest, item: TriageItem, form: forms.Form, title: str) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "item": item,
            "help": triage.reason_help(item.reason),
            "form": form,
        }
        return TemplateResponse(request, "admin/intake/triage_form.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The triage desk: the message, why it is here in words, and every way to resolve it."""
        item = get_object_or_404(TriageItem.objects.select_related("message", "request"), pk=object_id)
        if not self.has_view_or_change_permission(request, item):
            raise PermissionDenied
        message = item.message
        matched = triage.triage_matched_request(item) if item.status == TriageItem.Status.OPEN else None
        reading = triage.triage_amount_reading(item)
        create_form = AttachForm(
            initial={
                "invoice_number": message.invoice_number,
                "reason": triage.triage_proposed_reason(item),
                "requester_email": message.from_address,
            }
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Triage: {message.subject[:80] or '(no subject)'}",
            "item": item,
            "message": message,
            "help": triage.reason_help(item.reason),
            "matched": matched,
            "reading": reading,
            "customer_words": triage.triage_customer_words(item),
            "attachments": message.attachments or [],
            "create_form": create_form,
            "discard_form": DiscardForm(),
            "can_resolve": self.has_resolve_permission(request) and item.status == TriageItem.Status.OPEN,
        }
        return TemplateResponse(request, "admin/intake/triage_desk.html", context)

    def attach_matched_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_resolve_permission(request) or request.method != "POST":
            raise PermissionDenied
        item = get_object_or_404(TriageItem.objects.select_related("message"), pk=pk)
        target = get_object_or_404(RefundRequest, pk=request.POST.get("request"))
        try:
            item = triage.triage_attach_to_request(item=item, request=target, actor=request.user)
        except TransitionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:intake_triageitem_change", args=[pk]))
        self.message_user(request, f"Attached to {target.reference} as the customer's reply.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:intake_triageitem_changelist"))

    def attach_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        item = get_object_or_404(TriageItem.objects.select_related("message"), pk=pk)
        form = AttachForm(request.POST or None, initial={"invoice_number": item.message.invoice_number})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                item = services.triage_attach(
                    item=item,
                    actor=request.user,
                    invoice=data["invoice_number"],
                    reason=data["reason"],
                    requester_email=data["requester_email"],
                    as_reply=data["as_reply"],
                    note=data["note"],
                )
            except TransitionRefused as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Attached to {item.request}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:intake_triageitem_changelist"))
        return self._form_page(request, item, form, "Attach to a customer's invoice")

    def discard_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        item = get_object_or_404(TriageItem.objects.select_related("message"), pk=pk)
        form = DiscardForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.triage_discard(item=item, actor=request.user, note=form.cleaned_data["note"])
            except TransitionRefused as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, "Discarded.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:intake_triageitem_changelist"))
        return self._form_page(request, item, form, "Discard with a note")

    @admin.action(description="Discard as automated mail or spam", permissions=["resolve"])
    def discard_as_noise(self, request: HttpRequest, queryset: QuerySet[TriageItem]) -> None:
        done = failed = 0
        for item in queryset.filter(status=TriageItem.Status.OPEN):
            try:
                services.triage_discard(item=item, actor=request.user, note="Discarded as automated mail or spam.")
                done += 1
            except TransitionRefused:
                failed += 1
        self.message_user(request, f"{done} discarded ({failed} failed).")


@admin.register(RefundRequestImport)
class RefundRequestImportAdmin(ReadOnlyAdminMixin, BillingImportMixin, ModelAdmin):
    """Refund requests from other channels or an older system (``refund_requests.csv``), with preview.

    A separate entry so the review console keeps its own admin; importing needs
    ``intake.import_refundrequestimport``. Documents can only be imported with ``import_billing``.
    """

    resource_classes = [RefundRequestResource]
    list_display = ["reference", "invoice", "requester_email", "reason", "state", "received_at", "channel"]
    list_select_related = ["invoice"]
    list_filter = ["channel", "state"]
    search_fields = ["reference", "invoice__number", "requester_email"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundRequestImport]:
        return super().get_queryset(request).filter(channel="import")

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("intake.import_refundrequestimport")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_import_permission(request) or super().has_view_permission(request, obj)
