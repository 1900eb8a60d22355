"""Export records in the admin: an audit list for managers (read-only; rows are written by exports)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.reports.models import ExportRecord

EXPORT_PERM = "refunds.export_refundrequest"


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "created_at", "actor_label", "source", "format", "status", "progress", "row_count", "short_sha", "download")
    list_filter = ("status", "format", "source")
    search_fields = ("actor_label", "query_string", "sha256")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in ExportRecord._meta.fields]
    show_full_result_count = False

    # Managers (who may export) see every record; nobody edits or deletes them.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERM)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(EXPORT_PERM)

    @admin.display(description="progress")
    def progress(self, obj: ExportRecord) -> str:
        pct = obj.progress_percent
        return "" if pct is None else f"{pct}%"

    @admin.display(description="sha256")
    def short_sha(self, obj: ExportRecord) -> str:
        return obj.sha256[:12]

    @admin.display(description="file")
    def download(self, obj: ExportRecord) -> str:
        if obj.status != ExportRecord.Status.COMPLETED or not obj.file:
            return ""
        return format_html('<a href="{}">Download</a>', reverse("reports:export_download", args=[obj.pk]))
