"""What chargebacks add to the customer page: the balance, the suspension history and "Reinstate".

``billing.admin.CustomerAdmin`` mixes ``CustomerChargebackAdminMixin`` in; the rules stay in
``services.customer_reinstate``.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from januscaler_refunds.billing.models import Customer
from januscaler_refunds.chargebacks import selectors, services
from januscaler_refunds.chargebacks.admin import ReadOnlyInline, run_for_each
from januscaler_refunds.chargebacks.models import SuspensionEvent


class SuspensionEventInline(ReadOnlyInline):
    model = SuspensionEvent
    fields = ["at", "kind", "actor_label", "chargeback", "reason"]
    verbose_name_plural = "suspensions and reinstatements"


class CustomerChargebackAdminMixin:
    """Adds ``balance`` (a read-only field), ``SuspensionEventInline`` and the ``reinstate`` action."""

    # Status and suspension stamps change only through chargeback_record (suspend) and
    # customer_reinstate, which log a SuspensionEvent; no form edits them (issue 12, finding 4).
    chargeback_readonly_fields = ["status", "suspended_at", "suspended_by", "suspension_reason", "balance"]
    chargeback_inlines = [SuspensionEventInline]
    chargeback_actions = ["reinstate"]

    @admin.display(description="Outstanding balance (ledger)")
    def balance(self, obj: Customer) -> str:
        return selectors.format_balance(selectors.customer_balance(obj)) if obj.pk else "-"

    def has_reinstate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("chargebacks.reinstate_customer")

    @admin.action(description="Reinstate (suspended customers, with a reason)", permissions=["reinstate"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[Customer]) -> HttpResponse | None:
        reason = (request.POST.get("reinstate_reason") or "").strip()
        if "confirm_reinstate" not in request.POST or not reason:
            return TemplateResponse(
                request,
                "chargebacks/reinstate.html",
                {
                    **self.admin_site.each_context(request),  # type: ignore[attr-defined]
                    "title": "Reinstate customers",
                    "customers": queryset,
                    "missing_reason": "confirm_reinstate" in request.POST,
                    "opts": self.model._meta,  # type: ignore[attr-defined]
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        run_for_each(
            self, request, queryset, "reinstated",  # type: ignore[arg-type]
            lambda customer: services.customer_reinstate(customer=customer, actor=request.user, reason=reason),
        )
        return None
