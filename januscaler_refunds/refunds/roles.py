"""The three roles as Django groups, and exactly which permissions each holds.

A data migration creates the groups; ``sync_roles`` is idempotent, so a later
migration (or ``demo_data``) that adds permissions here brings existing
databases up to date.
"""

from __future__ import annotations

from typing import Any

AGENT = "Billing agent"
MANAGER = "Billing manager"
FINANCE = "Finance"

_VIEW_BILLING = [
    "billing.view_customer",
    "billing.view_violation",
    "billing.view_invoice",
    "billing.view_invoiceline",
    "billing.view_usagerecord",
    "billing.view_incident",
    "billing.view_abusereport",
    "billing.view_companyholiday",
    "billing.view_policyversion",
    "billing.view_ledgerentry",
    "chargebacks.view_chargeback",
]

_AGENT = [
    *_VIEW_BILLING,
    "refunds.view_refundrequest",
    "refunds.add_refundrequest",
    "refunds.change_refundrequest",
    "refunds.review_refundrequest",
    "refunds.approve_refundrequest",
    "refunds.deny_refundrequest",
    "refunds.view_refunddocument",
    "refunds.add_refunddocument",
    "refunds.view_transitionlog",
    "refunds.view_internalnote",
    "refunds.add_internalnote",
    "refunds.view_customermessage",
    "refunds.view_payout",
    "refunds.view_accountcredit",
    "refunds.view_informationrequest",
    "refunds.view_approvallimit",
    # Email intake: the triage list of messages that could not become requests.
    "intake.view_inboundmessage",
    "intake.view_triageitem",
    "intake.resolve_triageitem",
    # Deadline alerts and the digest record (read-only lists).
    "deadlines.view_alert",
    "deadlines.view_alertnotification",
    "deadlines.view_digestrun",
]

# Importing billing data (admin import with preview) needs add and change on the model.
_IMPORT_BILLING = [
    f"billing.{action}_{model}"
    for model in ("customer", "violation", "invoice", "invoiceline", "usagerecord", "incident", "abusereport")
    for action in ("add", "change")
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: _AGENT,
    MANAGER: [
        *_AGENT,
        "refunds.approve_above_limit_refundrequest",
        "refunds.override_refundrequest",
        "refunds.grant_credit_refundrequest",
        # Section 4.3: allow a payout by another method than the original one, with a reason.
        "refunds.add_payoutmethodexception",
        "refunds.view_payoutmethodexception",
        "refunds.export_refundrequest",
        "refunds.add_approvallimit",
        "refunds.change_approvallimit",
        "billing.add_policyversion",
        "billing.change_policyversion",
        "billing.add_companyholiday",
        "billing.change_companyholiday",
        "billing.delete_companyholiday",
        *_IMPORT_BILLING,
        "intake.view_refundrequestimport",
        "intake.import_refundrequestimport",
        # Is the IMAP intake reading mail? Managers are the ones alerted when it is not.
        "intake.view_mailboxhealth",
    ],
    FINANCE: [
        *_VIEW_BILLING,
        "refunds.view_refundrequest",
        "refunds.record_payout_refundrequest",
        "refunds.view_payout",
        "refunds.add_payout",
        "refunds.view_payoutmethodexception",
        "refunds.view_accountcredit",
        "refunds.add_accountcredit",
        "refunds.view_transitionlog",
        "refunds.view_customermessage",
        "refunds.view_refunddocument",
    ],
}


def sync_roles(apps: Any, extra: dict[str, list[str]] | None = None) -> None:
    """Create the groups and give each exactly its permissions (those that exist yet)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; a data migration must make them first.
    for app_config in apps.get_app_configs():
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = {role: list(perms) for role, perms in ROLE_PERMISSIONS.items()}
    for role, perms in (extra or {}).items():
        wanted.setdefault(role, []).extend(perms)
    for role, perms in wanted.items():
        group, _ = Group.objects.get_or_create(name=role)
        ids = []
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            pk = (
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                .values_list("pk", flat=True)
                .first()
            )
            if pk is not None:
                ids.append(pk)
        group.permissions.set(ids)
