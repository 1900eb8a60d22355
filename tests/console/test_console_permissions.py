"""Each role can do exactly its actions — as buttons on the review page and as direct POSTs.

A POST by the wrong role is refused with a message and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import (
    approved,
    change_url,
    client_as,
    crypto_invoice,
    fresh,
    transition_url,
    under_review,
)
from django.contrib.messages import get_messages

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import ApprovalLimit, Payout, TransitionLog

pytestmark = pytest.mark.django_db

ALL_BUTTONS = {
    "start_review", "resume_review", "approve", "request_information", "deny", "mark_paid", "mark_credited", "withdraw",
}


def buttons(client: Any, refund: Any) -> set[str]:
    html = client.get(change_url(refund)).content.decode()
    return {name for name in ALL_BUTTONS if f'data-action="{name}"' in html}


def errors(response: Any) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def post(client: Any, refund: Any, name: str, **data: Any) -> Any:
    return client.post(transition_url(refund, name), {"seen_state": fresh(refund).state, **data})


# --- which buttons each role sees ---------------------------------------------------------------


def test_agent_sees_claim_and_withdraw_on_a_new_request(agent_user: Any) -> None:
    refund = factories.make_request()
    assert buttons(client_as(agent_user), refund) == {"start_review", "withdraw"}


def test_agent_sees_the_review_transitions_under_review(agent_user: Any) -> None:
    refund = under_review(agent_user)
    assert buttons(client_as(agent_user), refund) == {"approve", "request_information", "deny", "withdraw"}


def test_finance_sees_no_review_transition(agent_user: Any, finance_user: Any) -> None:
    assert buttons(client_as(finance_user), factories.make_request()) == set()
    assert buttons(client_as(finance_user), under_review(agent_user)) == set()


def test_finance_sees_record_payout_on_an_approved_card_request(agent_user: Any, finance_user: Any) -> None:
    refund = approved(agent_user)
    assert buttons(client_as(finance_user), refund) == {"mark_paid"}
    assert buttons(client_as(agent_user), refund) == set()


def test_finance_sees_grant_credit_on_an_approved_crypto_request(manager_user: Any, finance_user: Any) -> None:
    refund = approved(manager_user, amount=Decimal("40.00"), invoice=crypto_invoice(), reason="billing_error",
                      requested_amount=Decimal("40.00"))
    assert buttons(client_as(finance_user), refund) == {"mark_credited"}


def test_agent_does_not_see_approve_on_a_crypto_request(agent_user: Any, manager_user: Any) -> None:
    refund = under_review(agent_user, invoice=crypto_invoice(), reason="billing_error", requested_amount=Decimal("40"))
    assert "approve" not in buttons(client_as(agent_user), refund)
    assert "approve" in buttons(client_as(manager_user), refund)


def test_the_override_field_is_shown_to_managers_only(agent_user: Any, manager_user: Any) -> None:
    refund = under_review(agent_user)
    assert 'name="override_reason"' not in client_as(agent_user).get(change_url(refund)).content.decode()
    assert 'name="override_reason"' in client_as(manager_user).get(change_url(refund)).content.decode()


def test_info_requested_shows_resume_and_deny(agent_user: Any) -> None:
    refund = services.refund_request_request_information(request=under_review(agent_user), actor=agent_user, missing="Invoice PDF")
    assert buttons(client_as(agent_user), refund) == {"resume_review", "deny", "withdraw"}


# --- direct POSTs: the right role succeeds -------------------------------------------------------


def test_agent_claims_requests_information_resumes_and_approves(agent_user: Any) -> None:
    client = client_as(agent_user)
    refund = factories.make_request()
    post(client, refund, "start_review")
    assert fresh(refund).state == "under_review" and fresh(refund).assignee == agent_user
    post(client, refund, "request_information", missing="A screenshot of the charge")
    assert fresh(refund).state == "info_requested"
    post(client, refund, "resume_review", note="Customer called back")
    assert fresh(refund).state == "under_review"
    post(client, refund, "approve", amount="60.00", note="")
    assert fresh(refund).state == "approved" and fresh(refund).approved_amount == Decimal("60.00")


def test_agent_denies_with_codes_and_a_message(agent_user: Any) -> None:
    refund = under_review(agent_user)
    post(client_as(agent_user), refund, "deny", codes=["window_expired", "account_violation"], message="Sorry.")
    refund = fresh(refund)
    assert refund.state == "denied" and refund.decision_codes == ["window_expired", "account_violation"]


def test_agent_withdraws_for_the_customer(agent_user: Any) -> None:
    refund = factories.make_request()
    post(client_as(agent_user), refund, "withdraw", note="Customer asked by phone")
    assert fresh(refund).state == "withdrawn"


def test_manager_approves_above_refundable_with_a_reason(agent_user: Any, manager_user: Any) -> None:
    refund = under_review(agent_user, requested_amount=Decimal("150.00"))
    post(client_as(manager_user), refund, "approve", amount="150.00", override_reason="Goodwill after outage", note="")
    refund = fresh(refund)
    assert refund.state == "approved" and refund.override_reason == "Goodwill after outage"
    assert refund.overridden_by == manager_user


def test_manager_without_a_reason_above_refundable_is_refused(agent_user: Any, manager_user: Any) -> None:
    refund = under_review(agent_user)
    response = post(client_as(manager_user), refund, "approve", amount="150.00", override_reason="", note="")
    assert fresh(refund).state == "under_review"
    assert any("override" in e.lower() for e in errors(response))


def test_finance_records_the_payout(agent_user: Any, finance_user: Any) -> None:
    refund = approved(agent_user, amount=Decimal("80.00"))
    post(client_as(finance_user), refund, "mark_paid", method="card", reference="ch_123", amount="80.00")
    refund = fresh(refund)
    assert refund.state == "paid" and Payout.objects.get(request=refund).recorded_by == finance_user


def test_finance_grants_the_credit_a_manager_approved(manager_user: Any, finance_user: Any) -> None:
    refund = approved(manager_user, amount=Decimal("40.00"), invoice=crypto_invoice(), reason="billing_error",
                      requested_amount=Decimal("40.00"))
    post(client_as(finance_user), refund, "mark_credited", amount="40.00", note="Credit for the overcharge")
    assert fresh(refund).state == "credited"


# --- direct POSTs: the wrong role is refused and nothing changes ----------------------------------


def _unchanged(refund: Any, response: Any) -> None:
    before_log = TransitionLog.objects.filter(request=refund).count()
    assert response.status_code == 302
    assert errors(response), "a refusal must say why"
    assert TransitionLog.objects.filter(request=refund).count() == before_log


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("start_review", {}),
        ("withdraw", {"note": ""}),
    ],
)
def test_finance_cannot_work_a_new_request(finance_user: Any, name: str, data: dict[str, str]) -> None:
    refund = factories.make_request()
    response = post(client_as(finance_user), refund, name, **data)
    _unchanged(refund, response)
    assert fresh(refund).state == "submitted"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("approve", {"amount": "10.00", "note": ""}),
        ("deny", {"codes": ["window_expired"], "message": "No"}),
        ("request_information", {"missing": "x"}),
    ],
)
def test_finance_cannot_decide(agent_user: Any, finance_user: Any, name: str, data: dict[str, Any]) -> None:
    refund = under_review(agent_user)
    response = post(client_as(finance_user), refund, name, **data)
    _unchanged(refund, response)
    assert fresh(refund).state == "under_review"


def test_finance_cannot_resume_a_review(agent_user: Any, finance_user: Any) -> None:
    refund = services.refund_request_request_information(request=under_review(agent_user), actor=agent_user, missing="x")
    response = post(client_as(finance_user), refund, "resume_review", note="")
    _unchanged(refund, response)
    assert fresh(refund).state == "info_requested"


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_agents_and_managers_cannot_record_payouts(role: str, agent_user: Any, manager_user: Any) -> None:
    user = agent_user if role == "agent" else manager_user
    refund = approved(agent_user if role == "manager" else manager_user, amount=Decimal("50.00"))
    response = post(client_as(user), refund, "mark_paid", method="card", reference="x", amount="50.00")
    _unchanged(refund, response)
    assert fresh(refund).state == "approved" and not Payout.objects.filter(request=refund).exists()


def test_agent_cannot_approve_above_refundable_even_by_post(agent_user: Any) -> None:
    refund = under_review(agent_user)
    response = post(client_as(agent_user), refund, "approve", amount="150.00", override_reason="please", note="")
    _unchanged(refund, response)
    assert fresh(refund).state == "under_review"
    assert any("manager" in e for e in errors(response))


def test_agent_cannot_approve_above_the_agent_limit(agent_user: Any, manager_user: Any) -> None:
    ApprovalLimit.objects.create(currency="USD", agent_limit=Decimal("50.00"))
    refund = under_review(agent_user)
    response = post(client_as(agent_user), refund, "approve", amount="80.00", note="")
    _unchanged(refund, response)
    assert any("limit" in e for e in errors(response))
    post(client_as(manager_user), refund, "approve", amount="80.00", note="")
    assert fresh(refund).state == "approved"


def test_agent_cannot_approve_a_crypto_request(agent_user: Any) -> None:
    refund = under_review(agent_user, invoice=crypto_invoice(), reason="billing_error", requested_amount=Decimal("40"))
    response = post(client_as(agent_user), refund, "approve", amount="40.00", note="")
    _unchanged(refund, response)


def test_the_approver_cannot_record_its_payout(agent_user: Any) -> None:
    both = factories.make_user("both", "Billing manager")
    both.groups.add(factories.Group.objects.get(name="Finance"))
    refund = approved(both, amount=Decimal("70.00"))
    response = post(client_as(both), refund, "mark_paid", method="card", reference="ch_1", amount="70.00")
    _unchanged(refund, response)
    assert any("someone else" in e for e in errors(response))


def test_a_stale_page_is_refused(agent_user: Any) -> None:
    """Someone else moved the request after this page was rendered."""
    refund = under_review(agent_user)
    services.refund_request_deny(request=refund, actor=agent_user, codes=["window_expired"], message="No")
    response = client_as(agent_user).post(
        transition_url(refund, "approve"), {"seen_state": "under_review", "amount": "10.00"}
    )
    assert fresh(refund).state == "denied"
    assert any("changed while you had it open" in e for e in errors(response))


def test_transitions_are_post_only(agent_user: Any) -> None:
    refund = factories.make_request()
    assert client_as(agent_user).get(transition_url(refund, "start_review")).status_code == 405
    assert fresh(refund).state == "submitted"


def test_transitions_need_the_csrf_token(agent_user: Any) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_user)
    refund = factories.make_request()
    assert client.post(transition_url(refund, "start_review"), {}).status_code == 403
    assert fresh(refund).state == "submitted"


def test_a_user_without_view_permission_gets_403(db: Any) -> None:
    outsider = factories.make_user("outsider")
    refund = factories.make_request()
    assert client_as(outsider).post(transition_url(refund, "start_review"), {}).status_code == 403


# --- the review page's edits --------------------------------------------------------------------


def test_finance_cannot_change_the_reason_or_add_notes(agent_user: Any, finance_user: Any) -> None:
    from django.urls import reverse

    refund = under_review(agent_user)
    client = client_as(finance_user)
    client.post(reverse("admin:refunds_refundrequest_reason", args=[refund.pk]), {"reason": "other"})
    client.post(reverse("admin:refunds_refundrequest_note", args=[refund.pk]), {"body": "hello"})
    refund = fresh(refund)
    assert refund.reason == "money_back_guarantee" and not refund.notes.exists()


def test_nobody_edits_a_request_through_the_stock_form(manager_user: Any) -> None:
    refund = factories.make_request()
    response = client_as(manager_user).post(change_url(refund), {"state": "approved", "reason": "other"})
    assert response.status_code == 403
    assert fresh(refund).state == "submitted"
