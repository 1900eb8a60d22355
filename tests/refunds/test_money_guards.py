"""Money guards in the services (issue 15, item 1): approving above the requested amount, and
payouts to the original payment method (section 4.3) unless a manager recorded an exception."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from factories import agent, finance, invoice_with_plan, make_request, manager

from januscaler_refunds.refunds import review_services, services
from januscaler_refunds.refunds.forms import ApproveForm
from januscaler_refunds.refunds.models import (
    CustomerMessage,
    Payout,
    RefundRequest,
    State,
    TransitionLog,
)
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def _under_review(actor: Any, *, requested: str | None, **kwargs: Any) -> RefundRequest:
    request = make_request(requested_amount=None if requested is None else Decimal(requested), **kwargs)
    return services.refund_request_start_review(request=request, actor=actor)


def _fresh(request: RefundRequest) -> RefundRequest:
    return RefundRequest.objects.get(pk=request.pk)


# --- approving above the requested amount ---------------------------------------------------------


def test_approving_above_the_requested_amount_without_a_reason_is_refused() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")  # refundable 100.00
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_approve(request=request, actor=user, amount=Decimal("100.00"))
    assert refused.value.rule == "approve.above_requested"
    assert "40.00" in refused.value.message
    request = _fresh(request)
    assert request.state == State.UNDER_REVIEW and request.approved_amount is None
    assert not TransitionLog.objects.filter(request=request, transition="approve").exists()


def test_a_confirmation_without_a_written_reason_is_still_refused() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    with pytest.raises(TransitionRefused, match="write why"):
        services.refund_request_approve(request=request, actor=user, amount=Decimal("40.01"),
                                        confirm_above_requested=True, above_requested_reason="   ")


def test_a_reason_without_the_confirmation_is_refused() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    with pytest.raises(TransitionRefused):
        services.refund_request_approve(request=request, actor=user, amount=Decimal("50.00"),
                                        above_requested_reason="Customer under-claimed the plan fee")


def test_confirmed_with_a_reason_it_is_approved_and_the_reason_is_logged() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    request = services.refund_request_approve(
        request=request, actor=user, amount=Decimal("60.00"), confirm_above_requested=True,
        above_requested_reason="Customer under-claimed: the verified double charge is 60.00",
    )
    assert request.state == State.APPROVED and request.approved_amount == Decimal("60.00")
    log = TransitionLog.objects.get(request=request, transition="approve")
    assert "Above the requested 40.00 USD: Customer under-claimed" in log.note
    assert log.actor == user


def test_approving_exactly_the_requested_amount_needs_no_reason() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    assert services.refund_request_approve(request=request, actor=user, amount=Decimal("40.00")).state == State.APPROVED


def test_with_no_requested_amount_only_the_refundable_amount_limits() -> None:
    user = agent()
    request = _under_review(user, requested=None)
    assert services.refund_request_approve(request=request, actor=user, amount=Decimal("100.00")).state == State.APPROVED


@pytest.mark.parametrize(("requested", "expected"), [("40.00", "40.00"), ("150.00", "100.00"), (None, "100.00")])
def test_the_approve_form_proposes_the_smaller_of_requested_and_refundable(requested: str | None, expected: str) -> None:
    user = agent()
    request = _under_review(user, requested=requested)  # refundable 100.00
    assert ApproveForm(refund=request, user=user).fields["amount"].initial == Decimal(expected)


def test_the_console_refuses_above_requested_without_confirmation_and_says_why() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    assert {"confirm_above_requested", "above_requested_reason"} <= set(ApproveForm(refund=request, user=user).fields)
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("admin:refunds_refundrequest_transition", args=[request.pk, "approve"]),
        {"amount": "60.00", "seen_state": "under_review"}, follow=True,
    )
    assert _fresh(request).state == State.UNDER_REVIEW
    assert "more than the customer asked for (40.00 USD)" in response.content.decode()


def test_a_forged_console_post_above_requested_is_refused_by_the_service() -> None:
    user = agent()
    request = _under_review(user, requested="40.00")
    client = Client()
    client.force_login(user)
    # The form check passes (confirmation ticked), so only the service can refuse the blank reason.
    response = client.post(
        reverse("admin:refunds_refundrequest_transition", args=[request.pk, "approve"]),
        {"amount": "90.00", "confirm_above_requested": "on", "above_requested_reason": "", "seen_state": "under_review"},
        follow=True,
    )
    assert _fresh(request).state == State.UNDER_REVIEW
    assert "asked for" in response.content.decode()


# --- payouts go to the original payment method (section 4.3) ---------------------------------------


def _approved(*, method: str = "card") -> RefundRequest:
    boss = manager("approver")
    request = _under_review(boss, requested=None, invoice=invoice_with_plan(payment_method=method))
    return services.refund_request_approve(request=request, actor=boss, amount=Decimal("100.00"))


def _pay(request: RefundRequest, actor: Any, method: str) -> RefundRequest:
    return services.refund_request_record_payout(request=request, actor=actor, method=method, reference="PSP-1",
                                                 amount=Decimal("100.00"))


def test_finance_cannot_pay_a_card_invoice_by_bank_transfer() -> None:
    request = _approved(method="card")
    with pytest.raises(TransitionRefused) as refused:
        _pay(request, finance(), "bank_transfer")
    assert refused.value.rule == "section_4_3.original_payment_method"
    assert "card" in refused.value.message and "manager" in refused.value.message
    assert not Payout.objects.filter(request=request).exists()
    assert _fresh(request).state == State.APPROVED


def test_finance_cannot_record_the_exception_itself() -> None:
    request = _approved()
    with pytest.raises(TransitionRefused) as refused:
        review_services.refund_request_allow_payout_method(request=request, actor=finance(), method="bank_transfer",
                                                           reason="Card closed")
    assert refused.value.rule == "permission.payout_method_exception"


def test_an_exception_needs_a_written_reason() -> None:
    request = _approved()
    with pytest.raises(TransitionRefused, match="Write why"):
        review_services.refund_request_allow_payout_method(request=request, actor=manager(), method="bank_transfer",
                                                           reason=" ")


def test_with_a_managers_exception_finance_pays_by_that_method_and_the_email_says_so() -> None:
    request = _approved(method="card")
    boss = manager()
    review_services.refund_request_allow_payout_method(
        request=request, actor=boss, method="bank_transfer", reason="The customer's card account was closed")
    allowed = TransitionLog.objects.get(request=request, transition="allow_payout_method")
    assert allowed.actor == boss and "card account was closed" in allowed.note
    request = _pay(_fresh(request), finance(), "bank_transfer")
    assert request.state == State.PAID and request.payout.method == "bank_transfer"
    paid = TransitionLog.objects.get(request=request, transition="mark_paid")
    assert "exception by manager" in paid.note
    email = CustomerMessage.objects.get(request=request, kind="payout_confirmation")
    assert "by bank transfer, instead of your original payment method (card)" in email.body
    assert "issued to your original payment method" not in email.body


def test_an_exception_for_one_method_does_not_allow_another() -> None:
    request = _approved(method="card")
    review_services.refund_request_allow_payout_method(request=request, actor=manager(), method="wallet",
                                                       reason="Customer asked for the wallet")
    with pytest.raises(TransitionRefused):
        _pay(_fresh(request), finance(), "bank_transfer")


def test_the_original_method_needs_no_exception_and_the_email_names_it() -> None:
    request = _pay(_approved(method="bank_transfer"), finance(), "bank_transfer")
    email = CustomerMessage.objects.get(request=request, kind="payout_confirmation")
    assert "by bank transfer, your original payment method" in email.body


def test_no_exception_is_recorded_before_approval() -> None:
    boss = manager()
    open_request = _under_review(boss, requested=None)
    with pytest.raises(TransitionRefused, match="approved requests"):
        review_services.refund_request_allow_payout_method(request=open_request, actor=boss, method="wallet",
                                                           reason="x")
