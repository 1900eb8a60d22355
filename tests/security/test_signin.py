"""Sign-in hardening: lockout (django-axes), second factor (django-otp), password rules, sessions."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from factories import agent, finance, manager

from januscaler_refunds.accounts.client_ip import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> int:
    response = client.post(
        reverse("admin:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )
    return response.status_code


def _manager_with_password() -> object:
    user = manager()
    user.set_password(PASSWORD)
    user.save()
    return user


def test_five_failures_lock_the_username_and_address_for_30_minutes() -> None:
    _manager_with_password()
    client = Client()
    codes = [_login(client, "manager", "wrong password") for _ in range(5)]
    assert codes[:4] == [200, 200, 200, 200]  # the form again, with an error
    assert codes[4] == 429  # the fifth failure locks
    assert _login(client, "manager", PASSWORD) == 429  # even the right password now
    # The lock is on the pair: the same user from another address still signs in.
    assert _login(Client(), "manager", PASSWORD, ip="10.0.0.2") == 302
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=29), tick=False):
        assert _login(Client(), "manager", PASSWORD) == 429
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31), tick=False):
        assert _login(Client(), "manager", PASSWORD) == 302


def test_behind_one_trusted_proxy_the_address_is_the_one_the_proxy_appended(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.254")
    assert client_ip(request) == "203.0.113.9"  # the client's own 6.6.6.6 could be forged
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.254"  # no proxy: the header is the client's and ignored


def test_managers_see_lockouts_in_the_admin() -> None:
    _manager_with_password()
    for _ in range(5):
        _login(Client(), "manager", "wrong password")
    viewer = manager("maya")
    client = Client()
    client.force_login(viewer)
    response = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert response.status_code == 200
    assert b"10.0.0.1" in response.content
    client.force_login(agent())
    assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def _admin_pages() -> list[str]:
    from django.contrib import admin

    pages = [reverse("admin:index"), reverse("reports:dashboard")]
    for model in admin.site._registry:
        pages.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    return pages


@pytest.fixture
def otp_required(settings) -> None:  # type: ignore[no-untyped-def]
    settings.OTP_REQUIRED_ROLES = ["manager", "finance"]


@pytest.mark.usefixtures("otp_required")
def test_a_manager_without_a_verified_device_reaches_no_admin_page() -> None:
    client = Client()
    client.force_login(manager())
    for page in _admin_pages():
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("accounts:otp_enrol")), page


@pytest.mark.usefixtures("otp_required")
def test_enrolling_a_device_opens_the_admin() -> None:
    user = manager()
    client = Client()
    client.force_login(user)
    page = client.get(reverse("accounts:otp_enrol"), {"next": reverse("admin:index")})
    assert page.status_code == 200
    assert b"data:image/svg+xml" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post(reverse("accounts:otp_enrol"), {"token": "000000" if totp(device.bin_key) else "1"})
    assert wrong.status_code == 200 and b"not right" in wrong.content
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong try above started the throttle
    device.throttling_failure_timestamp = None
    device.save()
    ok = client.post(
        reverse("accounts:otp_enrol"), {"token": f"{totp(device.bin_key):06d}", "next": reverse("admin:index")}
    )
    assert ok.status_code == 302 and ok["Location"] == reverse("admin:index")
    for page in _admin_pages():
        # Now only the role's own permissions decide (403 where a manager has no business).
        assert client.get(page).status_code in (200, 403), page
    assert client.get(reverse("admin:refunds_refundrequest_changelist")).status_code == 200


@pytest.mark.usefixtures("otp_required")
def test_a_new_session_of_an_enrolled_user_must_verify_again() -> None:
    user = finance()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response["Location"].startswith(reverse("accounts:otp_verify"))
    verified = client.post(reverse("accounts:otp_verify"), {"token": f"{totp(device.bin_key):06d}"})
    assert verified.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.usefixtures("otp_required")
def test_agents_are_not_asked_unless_the_setting_says_so(settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(agent())
    assert client.get(reverse("admin:index")).status_code == 200
    settings.OTP_REQUIRED_ROLES = ["agent", "manager", "finance"]
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize("password", ["password", "12345678", "Password1", "januscaler1"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_unusual_passphrase_is_accepted() -> None:
    validate_password("tangerine-wombat-orbit-42")


def test_sessions_end_after_eight_idle_hours(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST  # each request moves the expiry: idle, not absolute
