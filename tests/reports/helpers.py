"""Requests in the states the report and dashboard read, reached through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from factories import invoice_with_plan, kolkata, make_request

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest


def paid_request(
    *, manager: Any, finance: Any, received_at: dt.datetime, amount: Decimal = Decimal("100.00"), **invoice_kwargs: Any
) -> RefundRequest:
    invoice = invoice_with_plan(amount, issued_on=(received_at - dt.timedelta(days=2)).date(), **invoice_kwargs)
    request = make_request(invoice=invoice, received_at=received_at)
    services.refund_request_start_review(request=request, actor=manager)
    request = services.refund_request_approve(request=request, actor=manager, amount=amount)
    return services.refund_request_record_payout(
        request=request, actor=finance, method="card", reference="ch_1", amount=amount
    )


def denied_request(*, manager: Any, received_at: dt.datetime, **invoice_kwargs: Any) -> RefundRequest:
    invoice = invoice_with_plan(issued_on=(received_at - dt.timedelta(days=2)).date(), **invoice_kwargs)
    request = make_request(invoice=invoice, received_at=received_at)
    services.refund_request_start_review(request=request, actor=manager)
    return services.refund_request_deny(
        request=request, actor=manager, codes=["mbg_extensive_use"], message="Used beyond the guarantee."
    )


__all__ = ["paid_request", "denied_request", "kolkata"]
