"""No admin page for a role that must use a second factor until this session has passed it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from januscaler_refunds.refunds.roles import AGENT, FINANCE, MANAGER

ROLE_GROUPS = {"agent": AGENT, "manager": MANAGER, "finance": FINANCE}


def second_factor_required(user: object) -> bool:
    """Whether OTP_REQUIRED_ROLES (agent, manager, finance, superuser) covers this user."""
    roles = {role.strip().lower() for role in settings.OTP_REQUIRED_ROLES}
    if not roles or not getattr(user, "is_authenticated", False):
        return False
    if "superuser" in roles and getattr(user, "is_superuser", False):
        return True
    groups = {ROLE_GROUPS[r] for r in roles if r in ROLE_GROUPS}
    return bool(groups) and user.groups.filter(name__in=groups).exists()  # type: ignore[attr-defined]


class SecondFactorRequiredMiddleware:
    """After django_otp's OTPMiddleware: send an unverified session to verification (or enrolment).

    Only the second-factor pages, logout and static files stay reachable, so a stolen password
    alone opens nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            getattr(user, "is_authenticated", False)
            and not user.is_verified()  # type: ignore[union-attr]
            and not self._exempt(request.path)
            and second_factor_required(user)
        ):
            from django_otp import devices_for_user

            has_device = any(True for _ in devices_for_user(user, confirmed=True))
            target = reverse("accounts:otp_verify" if has_device else "accounts:otp_enrol")
            return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        exempt = (
            reverse("accounts:otp_verify"),
            reverse("accounts:otp_enrol"),
            reverse("admin:logout"),
            f"/{settings.STATIC_URL.lstrip('/')}",
        )
        return path.startswith(exempt)
