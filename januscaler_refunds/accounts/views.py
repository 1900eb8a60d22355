"""Enrol an authenticator app and verify a session with it, in the admin's look (unfold)."""

from __future__ import annotations

import base64

import segno
from django import forms
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.widgets import UnfoldAdminTextInputWidget

WRONG_CODE = "That code is not right or has expired; enter the code your app shows now."


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Six-digit code",
        max_length=8,
        widget=UnfoldAdminTextInputWidget(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _page(request: HttpRequest, template: str, **context: object) -> HttpResponse:
    return render(request, template, {**admin.site.each_context(request), "next": _next(request), **context})


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        return HttpResponseRedirect(f"{reverse('accounts:otp_enrol')}?next={_next(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # verify_token throttles: each wrong code doubles the wait before the next try.
        if device.verify_token(form.cleaned_data["token"]):
            otp_login(request, device)
            return HttpResponseRedirect(_next(request))
        form.add_error("token", WRONG_CODE)
    return _page(request, "accounts/otp_verify.html", form=form, title="Second factor")


@login_required
def otp_enrol(request: HttpRequest) -> HttpResponse:
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return HttpResponseRedirect(f"{reverse('accounts:otp_verify')}?next={_next(request)}")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="Authenticator app", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            return HttpResponseRedirect(_next(request))
        form.add_error("token", WRONG_CODE)
    return _page(
        request,
        "accounts/otp_enrol.html",
        form=form,
        title="Set up your authenticator app",
        qr=segno.make(device.config_url, error="m").svg_data_uri(scale=5),
        secret=base64.b32encode(device.bin_key).decode(),
    )
