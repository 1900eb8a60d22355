"""Helpers shared by the console tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
from django.test import Client
from django.urls import reverse

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest


def client_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def transition_url(refund: RefundRequest, name: str) -> str:
    return reverse("admin:refunds_refundrequest_transition", args=[refund.pk, name])


def change_url(refund: RefundRequest) -> str:
    return reverse("admin:refunds_refundrequest_change", args=[refund.pk])


def fresh(refund: RefundRequest) -> RefundRequest:
    return RefundRequest.objects.get(pk=refund.pk)


def under_review(actor: Any, **kwargs: Any) -> RefundRequest:
    refund = factories.make_request(**kwargs)
    return services.refund_request_start_review(request=refund, actor=actor)


def approved(actor: Any, amount: Decimal = Decimal("100.00"), **kwargs: Any) -> RefundRequest:
    refund = under_review(actor, **kwargs)
    return services.refund_request_approve(request=refund, actor=actor, amount=amount)


def crypto_invoice() -> Any:
    return factories.invoice_with_plan(payment_method="crypto")
