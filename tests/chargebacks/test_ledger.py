"""Section 6.3: fees and costs reach the customer's balance as ledger entries, exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import agent, invoice_with_plan, manager

from januscaler_refunds.billing.models import LedgerEntry
from januscaler_refunds.chargebacks import services
from januscaler_refunds.chargebacks.selectors import customer_balance
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def test_the_fee_is_booked_once_even_if_saved_twice(record) -> None:
    chargeback = record(invoice_with_plan(), ref="CB-FEE", fee="25.00")
    services.chargeback_book_fee(chargeback=chargeback, actor=None)
    services.chargeback_book_fee(chargeback=chargeback, actor=None)
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.amount, entry.currency, entry.source_key) == (
        "chargeback_fee", Decimal("25.00"), "USD", "chargeback:CB-FEE:fee")
    assert customer_balance(chargeback.invoice.customer) == {"USD": Decimal("25.00")}


def test_saving_the_chargeback_again_in_the_admin_books_nothing_new(record, client) -> None:
    chargeback = record(invoice_with_plan(), fee="25.00")
    client.force_login(manager())
    response = client.post(f"/admin/chargebacks/chargeback/{chargeback.pk}/change/", {
        "dispute-TOTAL_FORMS": "1", "dispute-INITIAL_FORMS": "1", "dispute-MIN_NUM_FORMS": "0",
        "dispute-MAX_NUM_FORMS": "1", "dispute-0-id": chargeback.dispute.pk, "dispute-0-chargeback": chargeback.pk,
    })
    assert response.status_code == 302, response.content[:2000]
    assert LedgerEntry.objects.count() == 1


def test_a_chargeback_without_a_fee_books_nothing(record) -> None:
    chargeback = record(invoice_with_plan(), fee="0")
    assert not LedgerEntry.objects.exists()
    assert customer_balance(chargeback.invoice.customer) == {}


def test_dispute_costs_are_keyed_so_a_resave_books_nothing(record) -> None:
    chargeback = record(invoice_with_plan(), ref="CB-C")
    boss = manager()
    for _ in range(2):
        services.dispute_add_cost(dispute=chargeback.dispute, key="lawyer-0042", amount=Decimal("80.00"),
                                  description="Legal review", actor=boss)
    services.dispute_add_cost(dispute=chargeback.dispute, key="courier-7", amount=Decimal("5.50"),
                              description="Courier", actor=boss)
    assert customer_balance(chargeback.invoice.customer) == {"USD": Decimal("100.50")}
    assert LedgerEntry.objects.filter(source_key="chargeback:CB-C:cost:lawyer-0042").count() == 1
    with pytest.raises(TransitionRefused):
        services.dispute_add_cost(dispute=chargeback.dispute, key="x", amount=Decimal("1"), description="",
                                  actor=agent())


def test_the_balance_is_kept_per_currency(record) -> None:
    usd = invoice_with_plan()
    inr = invoice_with_plan(customer=usd.customer, currency="INR")
    record(usd, ref="CB-U", fee="15.00")
    record(inr, ref="CB-I", fee="1500.00")
    LedgerEntry.objects.create(customer=usd.customer, kind="payment", amount=Decimal("-15.00"), currency="USD",
                               description="Paid", source_key="payment:1")
    assert customer_balance(usd.customer) == {"INR": Decimal("1500.00"), "USD": Decimal("0.00")}
    assert customer_balance(usd.customer_id) == customer_balance(usd.customer)
