from django.apps import AppConfig

# What each role may do with chargebacks. Registered into refunds.roles.ROLE_PERMISSIONS in
# ready(), so every sync_roles() call (migrations, demo_data, tests) grants them too.
CHARGEBACK_ROLE_PERMISSIONS: dict[str, list[str]] = {
    "Billing agent": [
        "chargebacks.view_dispute",
        "chargebacks.view_disputetransition",
        "chargebacks.view_suspensionevent",
    ],
    "Billing manager": [
        "chargebacks.add_chargeback",
        "chargebacks.change_chargeback",
        "chargebacks.view_dispute",
        "chargebacks.view_disputetransition",
        "chargebacks.work_dispute",
        "chargebacks.download_evidence_pack",
        "chargebacks.view_suspensionevent",
        "chargebacks.reinstate_customer",
        "chargebacks.view_webhookevent",
        "chargebacks.view_webhookdelivery",
    ],
    "Finance": [
        "chargebacks.add_chargeback",
        "chargebacks.view_dispute",
        "chargebacks.view_disputetransition",
        "chargebacks.work_dispute",
        "chargebacks.download_evidence_pack",
        "chargebacks.view_suspensionevent",
    ],
}


class ChargebacksConfig(AppConfig):
    name = "januscaler_refunds.chargebacks"
    label = "chargebacks"

    def ready(self) -> None:
        from januscaler_refunds.refunds.roles import ROLE_PERMISSIONS

        for role, perms in CHARGEBACK_ROLE_PERMISSIONS.items():
            granted = ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(p for p in perms if p not in granted)
