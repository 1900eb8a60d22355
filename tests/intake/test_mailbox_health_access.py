"""Billing managers get the IMAP mailbox alerts, so they may open the mailbox health list (issue 14)."""

from __future__ import annotations

import pytest
from django.test import Client
from factories import agent, finance, manager

from januscaler_refunds.intake.models import MailboxHealth

pytestmark = pytest.mark.django_db


def test_a_billing_manager_sees_the_mailbox_health_list_and_row() -> None:
    health = MailboxHealth.objects.create(mailbox="billing@imap.example.com/INBOX", problem="unreachable")
    user = manager()
    assert user.has_perm("intake.view_mailboxhealth")
    client = Client()
    client.force_login(user)
    assert client.get("/admin/intake/mailboxhealth/").status_code == 200
    assert client.get(f"/admin/intake/mailboxhealth/{health.pk}/change/").status_code == 200
    # Read-only: the poller writes these rows, nobody else.
    assert not user.has_perm("intake.change_mailboxhealth")
    assert client.get("/admin/intake/mailboxhealth/add/").status_code == 403


@pytest.mark.parametrize("make_user", [agent, finance])
def test_agents_and_finance_still_do_not(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    assert not user.has_perm("intake.view_mailboxhealth")
    client = Client()
    client.force_login(user)
    assert client.get("/admin/intake/mailboxhealth/").status_code == 403
