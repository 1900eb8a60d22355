"""demo_data: a realistic, deterministic dataset and one user per role; idempotent; refused outside DEBUG."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from januscaler_refunds.billing.models import (
    Customer,
    Incident,
    Invoice,
    InvoiceLine,
    PolicyVersion,
)
from januscaler_refunds.refunds.models import Reason, RefundRequest, State

pytestmark = pytest.mark.django_db


def test_the_demo_dataset_is_complete_and_loading_it_twice_changes_nothing(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = True
    call_command("demo_data", "--anchor", "2026-11-26", stdout=StringIO())
    assert Customer.objects.count() >= 200
    assert Invoice.objects.count() >= 1000
    assert RefundRequest.objects.count() >= 300
    assert set(RefundRequest.objects.values_list("state", flat=True)) == set(State.values)
    assert set(RefundRequest.objects.values_list("reason", flat=True)) == set(Reason.values)
    assert set(InvoiceLine.objects.values_list("category", flat=True)) == set(InvoiceLine.Category.values)
    assert set(Incident.objects.values_list("cause", flat=True)) == set(Incident.Cause.values)
    assert PolicyVersion.objects.count() >= 2
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(username__in=["agent", "manager", "finance"])
    assert {u.username: u.groups.get().name for u in users} == {
        "agent": "Billing agent", "manager": "Billing manager", "finance": "Finance"}
    assert all(u.check_password("demo") for u in users)

    before = (Customer.objects.count(), Invoice.objects.count(), RefundRequest.objects.count())
    out = StringIO()
    call_command("demo_data", "--anchor", "2026-11-26", stdout=out)
    assert "already present" in out.getvalue()
    assert (Customer.objects.count(), Invoice.objects.count(), RefundRequest.objects.count()) == before


def test_demo_data_is_refused_with_debug_off(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("demo_data", stdout=StringIO())
    assert not Customer.objects.exists()
