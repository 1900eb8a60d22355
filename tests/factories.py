"""Factories for tests. Requests reach non-initial states through the services, never by assignment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from januscaler_refunds.billing.models import Customer, Invoice, InvoiceLine
from januscaler_refunds.policy.calendar import KOLKATA
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.roles import AGENT, FINANCE, MANAGER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Sequence(lambda n: f"Customer {n}")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    number = factory.Sequence(lambda n: f"INV-2026-{n + 1:06d}")
    customer = factory.SubFactory(CustomerFactory)
    issued_on = dt.date(2026, 5, 4)
    kind = "initial"
    payment_method = "card"
    currency = "USD"
    amount_paid = Decimal("100.00")


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    line_no = factory.Sequence(lambda n: n + 1)
    category = "plan"
    description = "Team plan"
    amount = Decimal("100.00")
    service = "meet"


def invoice_with_plan(amount: Decimal = Decimal("100.00"), **kwargs: Any) -> Invoice:
    invoice = InvoiceFactory(amount_paid=amount, **kwargs)
    InvoiceLineFactory(invoice=invoice, line_no=1, amount=amount)
    return invoice


def kolkata(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=KOLKATA)


def make_request(
    *,
    invoice: Invoice | None = None,
    reason: str = "money_back_guarantee",
    received_at: dt.datetime | None = None,
    requested_amount: Decimal | None = None,
    **kwargs: Any,
) -> RefundRequest:
    invoice = invoice or invoice_with_plan()
    return services.refund_request_create(
        invoice=invoice,
        reason=reason,
        received_at=received_at or kolkata(invoice.issued_on.year, invoice.issued_on.month, invoice.issued_on.day) + dt.timedelta(days=2),
        requester_email=invoice.customer.email,
        requested_amount=requested_amount,
        **kwargs,
    )


def make_user(username: str, role: str | None = None, **kwargs: Any) -> Any:
    user = get_user_model().objects.create_user(username=username, password="pw", is_staff=True, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def agent(username: str = "agent") -> Any:
    return make_user(username, AGENT)


def manager(username: str = "manager") -> Any:
    return make_user(username, MANAGER)


def finance(username: str = "finance") -> Any:
    return make_user(username, FINANCE)
