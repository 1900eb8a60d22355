from django.apps import AppConfig

# Managers see (and may clear, which releases) sign-in lockouts. Registered into
# refunds.roles.ROLE_PERMISSIONS in ready(), so every sync_roles() call grants them too.
ACCOUNTS_ROLE_PERMISSIONS: dict[str, list[str]] = {
    "Billing manager": [
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accessfailurelog",
    ],
}


class AccountsConfig(AppConfig):
    """Sign-in hardening: the second factor (django-otp TOTP) and the lockout list (django-axes)."""

    name = "januscaler_refunds.accounts"
    label = "accounts"

    def ready(self) -> None:
        from januscaler_refunds.refunds.roles import ROLE_PERMISSIONS

        for role, perms in ACCOUNTS_ROLE_PERMISSIONS.items():
            granted = ROLE_PERMISSIONS.setdefault(role, [])
            granted.extend(p for p in perms if p not in granted)
