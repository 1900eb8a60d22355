"""Chargebacks in the admin: entry (through the service), disputes and their evidence packs,
suspensions and outbound webhooks. Every write calls ``services``; nothing here holds a rule."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.chargebacks import services
from januscaler_refunds.chargebacks.evidence import dispute_evidence_pack, evidence_pack_filename
from januscaler_refunds.chargebacks.models import (
    Chargeback,
    Dispute,
    DisputeTransition,
    SuspensionEvent,
    WebhookDelivery,
    WebhookEvent,
)
from januscaler_refunds.chargebacks.resources import ChargebackResource
from januscaler_refunds.deadlines import readtime
from januscaler_refunds.intake.admin import BillingImportMixin
from januscaler_refunds.refunds.services import TransitionRefused
from januscaler_refunds.reports import services as report_services
from januscaler_refunds.reports.admin import EXPORT_PERM
from januscaler_refunds.reports.models import ExportRecord

ENTRY_FIELDS = ["ref", "invoice", "amount", "currency", "network_reason", "received_at", "evidence_due", "fee"]


def run_for_each(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any], verb: str,
    service: Callable[[Any], Any],
) -> None:
    """Run ``service`` on each selected row; report "N changed (M refused)" with the reasons."""
    done, refused = 0, []
    for obj in queryset:
        try:
            service(obj)
            done += 1
        except TransitionRefused as exc:
            refused.append(f"{obj}: {exc.message}")
    level = messages.WARNING if refused else messages.SUCCESS
    summary = f"{done} {verb}" + (f" ({len(refused)} refused: {'; '.join(refused)})" if refused else "")
    modeladmin.message_user(request, summary, level)


class ReadOnlyInline(TabularInline):
    """Rows shown for the record: logs and deliveries are written by services, never here."""

    can_delete = False
    extra = 0

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChargebackEntryForm(forms.ModelForm):
    class Meta:
        model = Chargeback
        fields = ENTRY_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        invoice = data.get("invoice")
        if invoice is not None and all(data.get(k) is not None for k in ("amount", "currency", "received_at")):
            try:
                services.chargeback_check(
                    invoice=invoice, ref=data.get("ref") or "", amount=data["amount"], currency=data["currency"],
                    received_at=data["received_at"], fee=data.get("fee") or Decimal("0.00"),
                )
            except TransitionRefused as exc:
                raise forms.ValidationError(exc.message) from exc
        return data


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["dispute_link", "state", "evidence_due", "evidence_submitted_at", "closed_at"]

    @admin.display(description="Dispute")
    def dispute_link(self, obj: Dispute) -> str:
        return format_html('<a href="{}">Open the dispute</a>', reverse("admin:chargebacks_dispute_change", args=[obj.pk]))


@admin.register(Chargeback)
class ChargebackAdmin(ModelAdmin, ImportExportModelAdmin):
    resource_classes = [ChargebackResource]
    import_form_class = ImportForm
    export_form_class = ExportForm
    form = ChargebackEntryForm
    list_display = ["ref", "invoice", "customer", "amount", "currency", "received_at", "suspension", "dispute_state",
                    "outcome"]
    list_filter = ["suspension", "outcome", "currency"]
    list_select_related = ["invoice__customer", "dispute"]
    search_fields = ["ref", "invoice__number", "invoice__customer__email", "invoice__customer__name"]
    autocomplete_fields = ["invoice"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def get_inlines(self, request: HttpRequest, obj: Chargeback | None = None) -> list[Any]:
        return [] if obj is None else [DisputeInline]  # the dispute is created with the chargeback

    def get_fields(self, request: HttpRequest, obj: Chargeback | None = None) -> list[str]:
        if obj is None:
            return ENTRY_FIELDS
        return [*ENTRY_FIELDS, "outcome", "suspension", "prior_request", "recorded_by", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Chargeback | None = None) -> list[str]:
        # A chargeback is a recorded fact; only its dispute moves afterwards.
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # Import and export are the managers' (issue 12, finding 1): an import records chargebacks and so
    # suspends customers, which needs add and change like every billing import (finance records
    # single chargebacks in the form but has no change permission); an export needs the same
    # permission as the refund report and goes through the same record and neutralisation.
    def has_import_permission(self, request: HttpRequest) -> bool:
        return BillingImportMixin.has_import_permission(self, request)  # type: ignore[arg-type]

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERM) and request.user.has_perm("chargebacks.view_chargeback")

    def get_export_formats(self) -> list[Any]:
        return [CSV, XLSX]  # the formats an ExportRecord knows

    def get_export_data(self, file_format: Any, request: HttpRequest, queryset: QuerySet[Any], **kwargs: Any) -> Any:
        if not self.has_export_permission(request):
            raise PermissionDenied
        fmt = file_format.get_extension()
        record = report_services.export_record_create(
            user=request.user, fmt=fmt, source=ExportRecord.Source.MODEL,
            query_string=request.GET.urlencode(),
        )
        data = self.get_data_for_export(request, queryset, force_native_type=file_format.is_binary(), **kwargs)
        for index, values in enumerate(data):
            # Formula neutralisation as in the refund report (reports.services.csv_cell).
            data[index] = [report_services.csv_cell(v) if isinstance(v, str) else v for v in values]
        content = file_format.export_data(data)
        encoding = kwargs.get("encoding")
        if not file_format.is_binary() and encoding:
            content = content.encode(encoding)
        raw = content if isinstance(content, bytes) else str(content).encode()
        report_services.export_record_complete(record=record, content=raw, rows=len(data))
        return content

    @admin.display(description="Customer", ordering="invoice__customer__name")
    def customer(self, obj: Chargeback) -> str:
        return str(obj.invoice.customer)

    @admin.display(description="Dispute")
    def dispute_state(self, obj: Chargeback) -> str:
        dispute = getattr(obj, "dispute", None)
        return dispute.get_state_display() if dispute else "-"

    def save_model(self, request: HttpRequest, obj: Chargeback, form: Any, change: bool) -> None:
        if change:
            # Saving an existing chargeback again books nothing new (the fee is keyed by ref).
            services.chargeback_book_fee(chargeback=obj, actor=request.user)
            return
        data = form.cleaned_data
        created = services.chargeback_record(
            invoice=data["invoice"], ref=data["ref"], amount=data["amount"], currency=data["currency"],
            network_reason=data.get("network_reason") or "", received_at=data["received_at"],
            evidence_due=data.get("evidence_due"), fee=data.get("fee") or Decimal("0.00"), actor=request.user,
        )
        obj.pk = created.pk
        obj.suspension = created.suspension
        obj.created_at = created.created_at
        if created.suspension == Chargeback.Suspension.SUSPENDED:
            messages.warning(request, f"{created.invoice.customer} was suspended (section 6.1).")


class DisputeTransitionInline(ReadOnlyInline):
    model = DisputeTransition
    fields = ["at", "transition", "from_state", "to_state", "actor_label", "note"]


def _dispute_action(name: str, verb: str) -> Any:
    @admin.action(description=f"{name.replace('_', ' ').capitalize()} (selected disputes)", permissions=["work_dispute"])
    def action(modeladmin: DisputeAdmin, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        service = services.DISPUTE_SERVICES[name]
        run_for_each(modeladmin, request, queryset, verb, lambda d: service(dispute=d, actor=request.user))

    action.__name__ = f"dispute_{name}"
    return action


EVIDENCE_LEVELS = {readtime.NEAR: "Near", readtime.OVERDUE: "Overdue"}


class EvidenceLevelFilter(admin.SimpleListFilter):
    """Open disputes by evidence level today, from ``evidence_due_at`` (not the last alert raised)."""

    title = "evidence level"
    parameter_name = "evidence_level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(EVIDENCE_LEVELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.value() in EVIDENCE_LEVELS:
            return queryset.filter(readtime.clock_for(request).evidence_q(str(self.value())))
        return queryset


@admin.register(Dispute)
class DisputeAdmin(ModelAdmin):
    list_display = ["chargeback", "customer", "state", "evidence_due", "evidence_level", "amount"]
    list_filter = ["state", EvidenceLevelFilter]
    list_select_related = ["chargeback__invoice__customer"]
    search_fields = ["chargeback__ref", "chargeback__invoice__number", "chargeback__invoice__customer__email"]
    fields = ["chargeback", "state", "evidence_due", "evidence_level", "evidence_submitted_at", "closed_at",
              "last_alert", "evidence_pack"]
    readonly_fields = fields
    inlines = [DisputeTransitionInline]
    actions = [
        _dispute_action("submit_evidence", "marked evidence submitted"),
        _dispute_action("win", "marked won"),
        _dispute_action("lose", "marked lost"),
        _dispute_action("accept", "accepted"),
    ]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a dispute is opened with its chargeback

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_work_dispute_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chargebacks.work_dispute")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dispute]:
        # The level is rated when the page is read, so it is right before the hourly evidence scan.
        return super().get_queryset(request).annotate(
            evidence_level_now=readtime.clock_for(request).evidence_level()
        )

    @admin.display(description="Customer")
    def customer(self, obj: Dispute) -> str:
        return obj.chargeback.invoice.customer.email

    @admin.display(description="Evidence level", ordering="evidence_due_at")
    def evidence_level(self, obj: Dispute) -> str:
        level = getattr(obj, "evidence_level_now", "")
        return EVIDENCE_LEVELS.get(level, "None")

    @admin.display(description="Last alert raised")
    def last_alert(self, obj: Dispute) -> str:
        return obj.get_alert_level_display()

    @admin.display(description="Amount")
    def amount(self, obj: Dispute) -> str:
        return f"{obj.chargeback.amount:.2f} {obj.chargeback.currency}"

    @admin.display(description="Evidence pack")
    def evidence_pack(self, obj: Dispute) -> str:
        url = reverse("admin:chargebacks_dispute_evidence_pack", args=[obj.pk])
        return format_html('<a class="font-medium text-primary-600" href="{}">Download the evidence pack (ZIP)</a>', url)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.evidence_pack_view)
        return [path("<int:pk>/evidence-pack/", view, name="chargebacks_dispute_evidence_pack"), *super().get_urls()]

    def evidence_pack_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("chargebacks.download_evidence_pack"):
            return HttpResponse("You may not download evidence packs.", status=403)
        dispute = get_object_or_404(Dispute.objects.select_related("chargeback"), pk=pk)
        response = HttpResponse(dispute_evidence_pack(dispute), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{evidence_pack_filename(dispute)}"'
        return response


@admin.register(SuspensionEvent)
class SuspensionEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["at", "customer", "kind", "actor_label", "chargeback", "reason"]
    list_filter = ["kind"]
    list_select_related = ["customer", "chargeback"]
    search_fields = ["customer__email", "chargeback__ref"]
    show_full_result_count = False


class WebhookDeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fields = ["attempt", "started_at", "status_code", "ok", "duration_ms", "error", "url"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ModelAdmin):
    list_display = ["created_at", "type", "delivered_at", "failed_at", "attempts"]
    list_filter = ["type"]
    readonly_fields = ["id", "type", "payload", "created_at", "delivered_at", "failed_at"]
    inlines = [WebhookDeliveryInline]
    actions = ["redeliver"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chargebacks.reinstate_customer")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # Counted in the list query, not one COUNT per row.
        return super().get_queryset(request).annotate(delivery_count=Count("deliveries"))

    @admin.display(description="Attempts")
    def attempts(self, obj: WebhookEvent) -> int:
        return obj.delivery_count  # type: ignore[attr-defined]

    @admin.action(description="Send again (failed events)", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        run_for_each(self, request, queryset, "queued", lambda e: services.webhook_redeliver(event=e))
