"""The admin calls the services: entry records through chargeback_record, Reinstate asks for a reason."""

from __future__ import annotations

import pytest
from factories import agent, invoice_with_plan, manager

from januscaler_refunds.billing.models import Customer, LedgerEntry
from januscaler_refunds.chargebacks.models import Chargeback, SuspensionEvent

pytestmark = pytest.mark.django_db


def test_a_manager_records_a_chargeback_in_the_admin_and_it_suspends(client) -> None:
    invoice = invoice_with_plan()
    client.force_login(manager())
    assert client.get("/admin/chargebacks/chargeback/add/").status_code == 200
    response = client.post("/admin/chargebacks/chargeback/add/", {
        "ref": "CB-ADMIN", "invoice": invoice.pk, "amount": "100.00", "currency": "USD", "network_reason": "4837",
        "received_at_0": "2026-05-12", "received_at_1": "10:00:00", "evidence_due": "", "fee": "20.00",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    chargeback = Chargeback.objects.get(ref="CB-ADMIN")
    assert chargeback.recorded_by == "manager" and chargeback.suspension == "suspended"
    assert LedgerEntry.objects.get().amount == 20
    assert client.get(f"/admin/chargebacks/chargeback/{chargeback.pk}/change/").status_code == 200
    assert client.get(f"/admin/chargebacks/dispute/{chargeback.dispute.pk}/change/").status_code == 200


def test_the_admin_form_refuses_a_currency_other_than_the_invoices(client) -> None:
    invoice = invoice_with_plan()
    client.force_login(manager())
    response = client.post("/admin/chargebacks/chargeback/add/", {
        "ref": "CB-EUR", "invoice": invoice.pk, "amount": "100.00", "currency": "EUR",
        "received_at_0": "2026-05-12", "received_at_1": "10:00:00", "fee": "0",
    })
    assert response.status_code == 200 and "is in USD" in response.content.decode()
    assert not Chargeback.objects.exists()


def test_reinstate_from_the_customer_list_asks_for_a_reason_then_reinstates(client, record) -> None:
    invoice = invoice_with_plan()
    record(invoice)
    client.force_login(manager())
    page = client.get(f"/admin/billing/customer/{invoice.customer_id}/change/")
    assert page.status_code == 200 and "Outstanding balance" in page.content.decode()
    url = "/admin/billing/customer/"
    ask = client.post(url, {"action": "reinstate", "_selected_action": [invoice.customer_id]})
    assert ask.status_code == 200 and "Reason" in ask.content.decode()
    done = client.post(url, {"action": "reinstate", "_selected_action": [invoice.customer_id],
                             "confirm_reinstate": "1", "reinstate_reason": "Issuer withdrew the chargeback."})
    assert done.status_code == 302
    assert Customer.objects.get(pk=invoice.customer_id).status == "active"
    assert SuspensionEvent.objects.filter(kind="reinstated", actor_label="manager").count() == 1


def test_agents_are_not_offered_reinstate(client, record) -> None:
    invoice = invoice_with_plan()
    record(invoice)
    client.force_login(agent())
    page = client.get("/admin/billing/customer/")
    assert page.status_code == 200 and 'value="reinstate"' not in page.content.decode()
