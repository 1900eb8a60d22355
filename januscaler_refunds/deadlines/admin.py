"""Alerts in the admin: a read-only record of what was raised and what was sent to whom."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from januscaler_refunds.admin_mixins import ReadOnlyAdminMixin
from januscaler_refunds.deadlines.models import Alert, AlertNotification, DigestRun
from januscaler_refunds.formatting import request_link


class AlertNotificationInline(ReadOnlyAdminMixin, TabularInline):
    model = AlertNotification
    extra = 0
    fields = ["recipient", "status", "attempts", "created_at", "enqueued_at", "sent_at", "error"]
    readonly_fields = fields


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created_at", "kind", "level", "subject_display", "due_at", "request_state"]
    list_filter = ["kind", "level", "subject_type"]
    list_select_related = ["request"]
    search_fields = ["request__reference", "=subject_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [AlertNotificationInline]
    readonly_fields = ["subject_type", "subject_id", "request", "kind", "level", "due_at", "created_at",
                       "subject", "body"]
    exclude = ["token"]

    @admin.display(description="Subject", ordering="subject_id")
    def subject_display(self, obj: Alert) -> str:
        if obj.request_id is not None and obj.request is not None:
            return request_link(obj.request_id, obj.request.reference)
        return f"{obj.get_subject_type_display()} #{obj.subject_id}"

    @admin.display(description="Request state")
    def request_state(self, obj: Alert) -> str:
        return obj.request.get_state_display() if obj.request is not None else "-"


@admin.register(DigestRun)
class DigestRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["day", "near_count", "overdue_count", "recipients", "attempts", "sent_at", "error"]
    readonly_fields = list_display
