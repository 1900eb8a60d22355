"""Each transition made from the console queues the right customer message, sent after commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import client_as, fresh, transition_url
from django.core import mail

from januscaler_refunds.refunds.models import CustomerMessage

pytestmark = pytest.mark.django_db


def post(user: Any, refund: Any, name: str, capture: Any, **data: Any) -> None:
    with capture(execute=True):
        client_as(user).post(transition_url(refund, name), {"seen_state": fresh(refund).state, **data})


def kinds(refund: Any) -> list[str]:
    return list(CustomerMessage.objects.filter(request=refund).order_by("id").values_list("kind", flat=True))


def test_a_request_lives_its_life_and_the_customer_hears_each_step(
    agent_user: Any, finance_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        refund = factories.make_request(requested_amount=Decimal("100.00"))
    assert kinds(refund) == ["acknowledgement"]
    assert refund.reference in mail.outbox[-1].subject and "10 business days" in mail.outbox[-1].body

    post(agent_user, refund, "start_review", django_capture_on_commit_callbacks)
    assert kinds(refund) == ["acknowledgement"]  # claiming is internal

    post(agent_user, refund, "request_information", django_capture_on_commit_callbacks, missing="Your card's last 4 digits")
    assert kinds(refund)[-1] == "information_request"
    assert "Your card's last 4 digits" in mail.outbox[-1].body

    post(agent_user, refund, "resume_review", django_capture_on_commit_callbacks, note="")
    post(agent_user, refund, "approve", django_capture_on_commit_callbacks, amount="60.00", note="")
    assert kinds(refund)[-1] == "decision"
    assert "60.00 USD" in mail.outbox[-1].body and "partial refund" in mail.outbox[-1].body

    post(finance_user, refund, "mark_paid", django_capture_on_commit_callbacks, method="card", reference="ch_42", amount="60.00")
    assert kinds(refund)[-1] == "payout_confirmation"
    assert "ch_42" in mail.outbox[-1].body
    assert set(CustomerMessage.objects.filter(request=refund).values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == 4


def test_a_denial_explains_each_code_with_its_section(
    agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    refund = factories.make_request()
    post(agent_user, refund, "start_review", django_capture_on_commit_callbacks)
    post(agent_user, refund, "deny", django_capture_on_commit_callbacks,
         codes=["window_expired", "mbg_crypto_payment"], message="We checked the dates with you by phone.")
    body = mail.outbox[-1].body
    assert kinds(refund)[-1] == "decision"
    assert "section 3" in body and "section 2.2" in body and "We checked the dates" in body


def test_a_credit_is_confirmed(
    manager_user: Any, finance_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    refund = factories.make_request(invoice=factories.invoice_with_plan(payment_method="crypto"), reason="billing_error",
                                    requested_amount=Decimal("40.00"))
    post(manager_user, refund, "start_review", django_capture_on_commit_callbacks)
    post(manager_user, refund, "approve", django_capture_on_commit_callbacks, amount="40.00", override_reason="", note="")
    assert "account as a credit" in mail.outbox[-1].body
    post(finance_user, refund, "mark_credited", django_capture_on_commit_callbacks, amount="40.00", note="")
    assert kinds(refund)[-1] == "credit_confirmation" and "credit of 40.00 USD" in mail.outbox[-1].body


def test_a_refused_transition_sends_nothing(agent_user: Any, django_capture_on_commit_callbacks: Any) -> None:
    refund = factories.make_request()
    post(agent_user, refund, "start_review", django_capture_on_commit_callbacks)
    before = len(mail.outbox)
    post(agent_user, refund, "approve", django_capture_on_commit_callbacks, amount="999.00", note="")
    assert fresh(refund).state == "under_review" and len(mail.outbox) == before
