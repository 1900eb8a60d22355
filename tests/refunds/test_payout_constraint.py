"""At most one payout per request, enforced by the database itself."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from factories import make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import Payout

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_payout() -> None:
    # Approved through the services: the database also checks payout <= approved at commit.
    request = services.refund_request_start_review(request=make_request(), actor=None)
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal("1.00"))
    Payout.objects.create(request=request, method="card", reference="A", amount=Decimal("1.00"),
                          currency="USD", paid_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.create(request=request, method="card", reference="B", amount=Decimal("1.00"),
                              currency="USD", paid_at=timezone.now())
    assert Payout.objects.filter(request=request).count() == 1


def test_the_database_refuses_a_zero_payout() -> None:
    request = make_request()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.create(request=request, method="card", reference="A", amount=Decimal("0.00"),
                              currency="USD", paid_at=timezone.now())
