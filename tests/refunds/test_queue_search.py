"""Free-text search by customer name: a substring, case-insensitive, and on PostgreSQL written as
``ILIKE`` so the pg_trgm index serves it (Django's ``icontains`` is ``UPPER(name) LIKE``, which that
index cannot answer: a read of every customer, issue 14). SQLite keeps the ordinary ``icontains``."""

from __future__ import annotations

import factories
import pytest
from django.db import connection

from januscaler_refunds.billing.models import Customer
from januscaler_refunds.refunds import queue
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = pytest.mark.django_db


def test_name_search_finds_a_substring_in_any_case_and_escapes_wildcards() -> None:
    refund = factories.make_request()
    other = factories.make_request()
    Customer.objects.filter(pk=refund.customer_id).update(name="Acme Cloud 100% Ltd")
    Customer.objects.filter(pk=other.customer_id).update(name="Acme Cloud 1000 Ltd")
    found = set(queue.search(RefundRequest.objects.all(), "cloud 100%").values_list("pk", flat=True))
    assert found == {refund.pk}  # "%" is a character here, not a wildcard
    both = set(queue.search(RefundRequest.objects.all(), "aCME clo").values_list("pk", flat=True))
    assert both == {refund.pk, other.pk}


def test_name_search_is_ilike_on_postgresql() -> None:
    sql = str(Customer.objects.filter(name__name_contains="acme").query)
    if connection.vendor == "postgresql":
        assert "ILIKE" in sql and "UPPER" not in sql
    else:
        assert "LIKE" in sql
