"""Every legal transition, and a sample of illegal ones refused with a clear error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from factories import agent, finance, invoice_with_plan, make_request, manager

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import (
    AccountCredit,
    Payout,
    RefundRequest,
    State,
    StateFieldProtected,
    TransitionLog,
)
from januscaler_refunds.refunds.services import TransitionRefused

pytestmark = pytest.mark.django_db


def under_review(**kwargs):  # type: ignore[no-untyped-def]
    request = make_request(**kwargs)
    return services.refund_request_start_review(request=request, actor=agent("a1"))


def states(request: RefundRequest) -> list[tuple[str, str]]:
    return list(TransitionLog.objects.filter(request=request).values_list("from_state", "to_state"))


def test_a_new_request_is_submitted_and_logged() -> None:
    request = make_request()
    assert request.state == State.SUBMITTED
    assert states(request) == [("", "submitted")]
    assert request.reference.startswith("RR-")


def test_submitted_to_under_review_assigns_the_agent() -> None:
    request = make_request()
    user = agent()
    request = services.refund_request_start_review(request=request, actor=user)
    assert request.state == State.UNDER_REVIEW
    assert request.assignee == user
    log = TransitionLog.objects.filter(request=request).last()
    assert (log.actor, log.from_state, log.to_state) == (user, "submitted", "under_review")


def test_information_request_and_answer_round_trip() -> None:
    request = under_review()
    request = services.refund_request_request_information(request=request, actor=None, missing="Bank statement")
    assert request.state == State.INFO_REQUESTED
    assert request.information_requests.get().answered_at is None
    request = services.refund_request_resume_review(request=request, actor=None, note="Customer replied")
    assert request.state == State.UNDER_REVIEW
    assert request.information_requests.get().answered_at is not None


def test_approve_then_pay() -> None:
    request = under_review()
    approver = agent("approver")
    request = services.refund_request_approve(request=request, actor=approver, amount=Decimal("100.00"))
    assert request.state == State.APPROVED
    assert request.payout_due_at is not None
    request = services.refund_request_record_payout(
        request=request, actor=finance(), method="card", reference="PSP-1", amount=Decimal("100.00")
    )
    assert request.state == State.PAID
    assert Payout.objects.get(request=request).amount == Decimal("100.00")
    assert [t for _, t in states(request)] == ["submitted", "under_review", "approved", "paid"]


def test_crypto_request_is_approved_by_a_manager_and_ends_credited() -> None:
    invoice = invoice_with_plan(payment_method="crypto")
    request = under_review(invoice=invoice)
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_approve(request=request, actor=agent("a2"), amount=Decimal("50.00"))
    assert refused.value.rule == "section_4_3.crypto_credit_only"
    request = services.refund_request_approve(request=request, actor=manager(), amount=Decimal("50.00"))
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_record_payout(
            request=request, actor=finance(), method="card", reference="X", amount=Decimal("50.00")
        )
    assert refused.value.rule == "section_4_3.crypto_credit_only"
    request = services.refund_request_grant_credit(request=request, actor=finance("fin2"), amount=Decimal("50.00"))
    assert request.state == State.CREDITED
    assert AccountCredit.objects.get(request=request).amount == Decimal("50.00")


def test_deny_needs_codes_and_a_message() -> None:
    request = under_review()
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_deny(request=request, actor=None, codes=[], message="no")
    assert refused.value.rule == "deny.codes"
    with pytest.raises(TransitionRefused):
        services.refund_request_deny(request=request, actor=None, codes=["no_such_code"], message="no")
    request = services.refund_request_deny(
        request=request, actor=None, codes=["window_expired"], message="Too late, sorry."
    )
    assert request.state == State.DENIED
    assert request.decision_codes == ["window_expired"]


@pytest.mark.parametrize("steps", [0, 1, 2])
def test_withdraw_from_each_open_state(steps: int) -> None:
    request = make_request()
    if steps >= 1:
        request = services.refund_request_start_review(request=request, actor=None)
    if steps >= 2:
        request = services.refund_request_request_information(request=request, actor=None, missing="ID")
    request = services.refund_request_withdraw(request=request, actor=None)
    assert request.state == State.WITHDRAWN


def test_withdraw_after_a_decision_is_refused() -> None:
    request = under_review()
    request = services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_withdraw(request=request, actor=None)
    assert refused.value.rule == "state_machine.withdraw"
    assert "approved" in refused.value.message
    request.refresh_from_db()
    assert request.state == State.APPROVED


def test_approving_a_submitted_request_is_refused() -> None:
    request = make_request()
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_approve(request=request, actor=None, amount=Decimal("10.00"))
    assert refused.value.rule == "state_machine.approve"


def test_paying_without_approval_is_refused() -> None:
    request = under_review()
    with pytest.raises(TransitionRefused):
        services.refund_request_record_payout(
            request=request, actor=None, method="card", reference="X", amount=Decimal("1.00")
        )
    assert not Payout.objects.filter(request=request).exists()


def test_approval_above_refundable_needs_a_manager_override_with_reason() -> None:
    request = under_review(requested_amount=Decimal("100.00"))
    assert request.refundable_amount == Decimal("100.00")
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_approve(request=request, actor=manager("m1"), amount=Decimal("150.00"))
    assert refused.value.rule == "approve.override_reason"
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_approve(
            request=request, actor=agent("a3"), amount=Decimal("150.00"), override_reason="Goodwill"
        )
    assert refused.value.rule == "permission.override"
    # 150.00 is also above the 100.00 requested: that needs its own confirmation and reason.
    request = services.refund_request_approve(
        request=request, actor=manager("m2"), amount=Decimal("150.00"), override_reason="Goodwill gesture",
        confirm_above_requested=True, above_requested_reason="Goodwill gesture beyond the claim",
    )
    assert request.state == State.APPROVED
    assert request.override_reason == "Goodwill gesture"


def test_database_refuses_an_approved_amount_above_refundable_without_reason() -> None:
    request = under_review()
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundRequest.objects.filter(pk=request.pk).update(approved_amount=Decimal("999.00"))


def test_the_approver_cannot_record_the_payout() -> None:
    request = under_review()
    user = make_user_with_both_roles()
    request = services.refund_request_approve(request=request, actor=user, amount=Decimal("100.00"))
    with pytest.raises(TransitionRefused) as refused:
        services.refund_request_record_payout(
            request=request, actor=user, method="card", reference="X", amount=Decimal("100.00")
        )
    assert refused.value.rule == "segregation_of_duties"


def make_user_with_both_roles():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    from januscaler_refunds.refunds.roles import FINANCE

    user = manager("both")
    user.groups.add(Group.objects.get(name=FINANCE))
    return user


def test_state_cannot_be_assigned_or_bulk_updated() -> None:
    request = make_request()
    with pytest.raises(AttributeError):
        request.state = State.PAID
    with pytest.raises(StateFieldProtected):
        RefundRequest.objects.filter(pk=request.pk).update(state=State.PAID)


def test_request_before_the_first_policy_version_is_refused() -> None:
    from factories import kolkata

    invoice = invoice_with_plan(issued_on=__import__("datetime").date(2025, 1, 1))
    with pytest.raises(TransitionRefused) as refused:
        make_request(invoice=invoice, received_at=kolkata(2025, 1, 5))
    assert refused.value.rule == "section_7.policy_version"
    assert "2025-01-06" in refused.value.message


def test_a_second_unsettled_request_on_the_same_invoice_is_linked() -> None:
    first = make_request()
    second = make_request(invoice=first.invoice, reason="billing_error")
    assert second.duplicate_of == first
    assert "duplicate_request" in second.evaluation_codes
    assert "duplicate_request" not in RefundRequest.objects.get(pk=first.pk).evaluation_codes


def test_a_request_waiting_for_information_can_be_denied() -> None:
    request = under_review()
    request = services.refund_request_request_information(request=request, actor=None, missing="Invoice copy")
    request = services.refund_request_deny(
        request=request, actor=None, codes=["missing_documentation"], message="No documents arrived."
    )
    assert request.state == State.DENIED
    assert [t for _, t in states(request)][-2:] == ["info_requested", "denied"]


def test_import_history_lands_a_final_state_logged_as_an_import() -> None:
    request = make_request()
    user = manager("importer")
    # Segregation of duties (issue 12): the importing user stands in as the approver, so settled
    # history comes only from the system; a user imports up to "approved".
    with pytest.raises(services.TransitionRefused):
        services.refund_request_import_history(
            request=request, actor=user, target=State.PAID, decided_at=request.received_at,
            approved_amount=Decimal("60.00"), paid_amount=Decimal("60.00"),
        )
    approved = services.refund_request_import_history(
        request=make_request(), actor=user, target=State.APPROVED, decided_at=request.received_at,
        approved_amount=Decimal("60.00"),
    )
    assert TransitionLog.objects.filter(request=approved).last().actor_label == "import by importer"
    request = services.refund_request_import_history(
        request=request, actor=None, target=State.PAID, decided_at=request.received_at,
        approved_amount=Decimal("60.00"), paid_amount=Decimal("60.00"),
    )
    assert request.state == State.PAID
    log = TransitionLog.objects.filter(request=request).last()
    assert log.actor_label == "import by system"
    assert (log.from_state, log.to_state) == ("submitted", "paid")
    assert Payout.objects.get(request=request).amount == Decimal("60.00")
