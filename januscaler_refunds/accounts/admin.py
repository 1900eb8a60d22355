"""Sign-in lockouts (django-axes) in the admin's look, for managers: see who is locked, release."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin


class _ReadOnly(ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessAttempt)
class AccessAttemptAdmin(_ReadOnly):
    """A row per locked (or failing) username+address; deleting it releases the lockout."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "user_agent"]
    list_filter = ["attempt_time"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"
    readonly_fields = ["username", "ip_address", "user_agent", "path_info", "failures_since_start", "attempt_time"]
    fields = readonly_fields


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(_ReadOnly):
    list_display = ["username", "ip_address", "locked_out", "attempt_time", "user_agent"]
    list_filter = ["locked_out", "attempt_time"]
    search_fields = ["username", "ip_address"]
    readonly_fields = ["username", "ip_address", "user_agent", "path_info", "locked_out", "attempt_time"]
    fields = readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
