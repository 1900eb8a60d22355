"""Billing facts in the admin: mostly read by agents, kept by managers and imports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from import_export.formats.base_formats import CSV
from unfold.admin import ModelAdmin, TabularInline

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.billing.models import (
    AbuseReport,
    CompanyHoliday,
    Customer,
    ImportJob,
    Incident,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    PolicyVersion,
    UsageRecord,
    Violation,
)
from januscaler_refunds.chargebacks.customer_admin import CustomerChargebackAdminMixin
from januscaler_refunds.intake import importing
from januscaler_refunds.intake import resources as import_resources
from januscaler_refunds.intake.admin import BillingImportMixin as RowImportMixin
from januscaler_refunds.refunds.freeze import frozen_message, invoice_deciding_reference
from januscaler_refunds.refunds.services import reevaluate_open_requests


class BillingImportMixin(RowImportMixin):
    """The admin import; a CSV of more than ``IMPORT_ASYNC_ROWS`` rows runs in the worker instead.

    A file that large would outlive the web request (10k rows hit gunicorn's 120 s timeout): it is
    stored as an ImportJob and imported by ``intake.tasks.run_import_job`` (bulk path on PostgreSQL,
    all or nothing); the user follows its progress and result under "Import jobs".
    """

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and self.has_import_permission(request):
            queued = self._queue_large_import(request)
            if queued is not None:
                return queued
        return super().import_action(request, **kwargs)  # type: ignore[no-any-return]

    def _queue_large_import(self, request: HttpRequest) -> HttpResponse | None:
        form = self.create_import_form(request)
        if not form.is_valid():
            return None
        formats = self.get_import_formats()
        upload = form.cleaned_data["import_file"]
        name = importing.import_file_name_for(self.get_import_resource_classes(request)[0])
        if name is None or not issubclass(formats[int(form.cleaned_data["format"])], CSV):
            return None
        rows = sum(chunk.count(b"\n") for chunk in upload.chunks()) - 1  # the header
        upload.seek(0)
        if rows <= settings.IMPORT_ASYNC_ROWS:
            return None
        with transaction.atomic():
            job = importing.import_job_create(user=request.user, import_file=name, upload=upload, rows_total=rows)
        messages.info(
            request,
            f"{rows:,} rows is a large import: it runs in the background (job #{job.pk}), all or nothing. "
            "Its progress and result are shown here.",
        )
        return HttpResponseRedirect(reverse("admin:billing_importjob_changelist"))


IMPORTABLE = ("customer", "violation", "invoice", "invoiceline", "usagerecord", "incident", "abusereport",
              "companyholiday")


def may_import_billing(user: Any) -> bool:
    return bool(user.is_active and user.is_staff) and any(
        user.has_perms([f"billing.add_{model}", f"billing.change_{model}"]) for model in IMPORTABLE
    )


@admin.register(ImportJob)
class ImportJobAdmin(ModelAdmin):
    """Large admin imports: each user sees the jobs they started (superusers all), as one list."""

    list_display = ["created_at", "file", "status_label", "progress", "counts", "error_lines"]
    list_display_links = None
    list_filter = ["status", "import_file"]

    def get_urls(self) -> list[Any]:
        # Only the list: a job is created by an upload and changed by the worker, never by a form.
        opts = self.model._meta
        return [path("", self.admin_site.admin_view(self.changelist_view),
                     name=f"{opts.app_label}_{opts.model_name}_changelist")]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportJob]:
        jobs = super().get_queryset(request).select_related("user")
        return jobs if request.user.is_superuser else jobs.filter(user=request.user)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_import_billing(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[no-any-return]

    @admin.display(description="File")
    def file(self, job: ImportJob) -> str:
        return format_html("{}<br><span class=\"text-xs\">as {} by {}</span>", job.original_name or "—",
                           job.import_file, job.user.get_username())

    @admin.display(description="Status", ordering="status")
    def status_label(self, job: ImportJob) -> str:
        return job.get_status_display()

    @admin.display(description="Progress")
    def progress(self, job: ImportJob) -> str:
        return f"{job.progress_percent} % ({job.rows_done:,} of {job.rows_total:,} rows)"

    @admin.display(description="New / updated / unchanged")
    def counts(self, job: ImportJob) -> str:
        if job.status != ImportJob.Status.COMPLETED:
            return "—"
        return f"{job.new:,} / {job.updated:,} / {job.skipped:,}"

    @admin.display(description="Errors")
    def error_lines(self, job: ImportJob) -> str:
        if not job.errors:
            return "—"
        # Errors quote the file's cells: escaped, one line each.
        return format_html_join("", "<div>{}</div>", ((line,) for line in job.errors.splitlines()))


class ReevaluateOnSaveMixin:
    """Saving a fact re-runs the evaluation of the open requests it can change."""

    def facts_changed(self, obj: object) -> dict[str, list]:  # customer_ids / services_changed
        customer_id = getattr(obj, "customer_id", None) or (obj.pk if isinstance(obj, Customer) else None)
        return {"customer_ids": [customer_id] if customer_id else []}

    def save_related(self, request: HttpRequest, form: object, formsets: object, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        reevaluate_open_requests(**self.facts_changed(form.instance))  # type: ignore[attr-defined]


class ViolationInline(TabularInline):
    model = Violation
    extra = 0


class LedgerEntryInline(TabularInline):
    model = LedgerEntry
    extra = 0
    fields = ["created_at", "kind", "amount", "currency", "description"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(BillingImportMixin, CustomerChargebackAdminMixin, ReevaluateOnSaveMixin, ModelAdmin):
    resource_classes = [import_resources.CustomerResource]
    list_display = ["name", "email", "status", "identity_verified", "created_at"]
    list_filter = ["status", "identity_verified"]
    search_fields = ["name", "email", "external_id"]
    # Balance, suspension history and "Reinstate" come from chargebacks (section 6); the status and
    # suspension fields are read-only there too: they change only through those services.
    readonly_fields = ["created_at", *CustomerChargebackAdminMixin.chargeback_readonly_fields]
    inlines = [ViolationInline, LedgerEntryInline, *CustomerChargebackAdminMixin.chargeback_inlines]
    actions = [*CustomerChargebackAdminMixin.chargeback_actions]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a customer's history (requests, ledger, suspensions) is the record


@admin.register(Violation)
class ViolationAdmin(BillingImportMixin, ModelAdmin):
    resource_classes = [import_resources.ViolationResource]
    list_display = ["customer", "kind", "status", "opened_on"]
    list_filter = ["kind", "status"]
    list_select_related = ["customer"]
    search_fields = ["customer__email"]
    autocomplete_fields = ["customer"]


class FrozenInvoiceMixin:
    """An invoice with a decided request (and each of its lines) is shown read-only (refunds.freeze)."""

    def invoice_id_of(self, obj: Any) -> int | None:
        return obj.pk if isinstance(obj, Invoice) else getattr(obj, "invoice_id", None)

    def frozen_by(self, obj: Any) -> str | None:
        return invoice_deciding_reference(self.invoice_id_of(obj)) if obj is not None else None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.frozen_by(obj):
            return False  # the change page becomes a read-only view; a POST is refused
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.frozen_by(obj):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        reference = self.frozen_by(obj)
        if reference and request.method == "GET":
            invoice = obj if isinstance(obj, Invoice) else obj.invoice
            messages.warning(request, frozen_message(invoice.number, reference))
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc, no-any-return]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(FrozenInvoiceMixin, BillingImportMixin, ModelAdmin):
    resource_classes = [import_resources.InvoiceLineResource]
    list_display = ["invoice", "line_no", "category", "description", "amount"]
    list_filter = ["category"]
    list_select_related = ["invoice"]
    search_fields = ["invoice__number", "description"]
    raw_id_fields = ["invoice"]
    show_full_result_count = False


class InvoiceLineInline(TabularInline):
    model = InvoiceLine
    extra = 0

    # obj is the invoice here: no line is added, changed or removed once it is frozen.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not invoice_deciding_reference(getattr(obj, "pk", None)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not invoice_deciding_reference(getattr(obj, "pk", None)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not invoice_deciding_reference(getattr(obj, "pk", None)) and super().has_delete_permission(request, obj)


@admin.register(Invoice)
class InvoiceAdmin(FrozenInvoiceMixin, BillingImportMixin, ReevaluateOnSaveMixin, ModelAdmin):
    resource_classes = [import_resources.InvoiceResource]
    list_display = ["number", "customer", "issued_on", "kind", "payment_method", "currency", "amount_paid"]
    list_filter = ["kind", "payment_method", "currency"]
    search_fields = ["number", "customer__email", "customer__name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "issued_on"
    inlines = [InvoiceLineInline]
    show_full_result_count = False


@admin.register(UsageRecord)
class UsageRecordAdmin(BillingImportMixin, ReevaluateOnSaveMixin, ModelAdmin):
    resource_classes = [import_resources.UsageResource]
    list_display = ["at", "customer", "invoice_line", "service", "units"]
    list_select_related = ["customer", "invoice_line__invoice"]
    search_fields = ["customer__email", "invoice_line__invoice__number"]
    raw_id_fields = ["customer", "invoice_line"]
    show_full_result_count = False


@admin.register(Incident)
class IncidentAdmin(BillingImportMixin, ReevaluateOnSaveMixin, ModelAdmin):
    resource_classes = [import_resources.IncidentResource]
    list_display = ["ref", "service", "start", "end", "cause"]

    def facts_changed(self, obj: object) -> dict[str, list]:
        return {"services_changed": [obj.service]}  # type: ignore[attr-defined]
    list_filter = ["cause", "service"]
    search_fields = ["ref", "service"]


@admin.register(AbuseReport)
class AbuseReportAdmin(BillingImportMixin, ReevaluateOnSaveMixin, ModelAdmin):
    resource_classes = [import_resources.AbuseReportResource]
    list_display = ["ref", "customer", "received_at"]
    list_select_related = ["customer"]
    search_fields = ["ref", "customer__email"]
    autocomplete_fields = ["customer"]


@admin.register(CompanyHoliday)
class CompanyHolidayAdmin(BillingImportMixin, ModelAdmin):
    resource_classes = [import_resources.CompanyHolidayResource]
    list_display = ["date", "name"]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ModelAdmin):
    list_display = [
        "label",
        "effective_date",
        "announced_on",
        "material_change",
        "review_business_days",
        "payout_business_days",
        "near_deadline_business_days",
    ]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Requests keep the version they were evaluated under.
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):  # entries are booked by services only
    list_display = ["created_at", "customer", "kind", "amount", "currency", "description"]
    list_select_related = ["customer"]
    list_filter = ["kind", "currency"]
    search_fields = ["customer__email", "description"]
