"""The review console in headless Chromium: a request's whole life as the three roles.

Every button the console renders is clicked here at least once. Screenshots of the queue and the
review page go to var/artifacts (not committed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import factories
import pytest

from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.services import DocumentUpload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def as_user(browser: Any, live_server: Any) -> Iterator[Any]:
    contexts = []

    def open_as(username: str) -> Any:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/admin/login/?next=/admin/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "pw")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url("**/admin/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def review(page: Any, refund: RefundRequest) -> None:
    page.goto(f"/admin/refunds/refundrequest/{refund.pk}/change/")


def act(page: Any, name: str, **fields: str) -> None:
    """Open a transition's small form, fill it, submit it."""
    page.click(f'summary[data-action="{name}"]')
    form = page.locator(f'form[data-form="{name}"]')
    for field, value in fields.items():
        target = form.locator(f'[name="{field}"]')
        if field == "codes":
            # Checkboxes, the evaluation's proposals ticked: tick exactly the codes asked for.
            for box in form.locator('input[name="codes"]').all():
                box.set_checked(box.get_attribute("value") in value.split(","))
        else:
            target.fill(value)
    form.locator(f'button[data-submit="{name}"]').click()
    page.wait_for_load_state()


def state_of(page: Any) -> str:
    return page.locator('[data-testid="state"]').inner_text().strip().lower()


def test_a_request_through_its_whole_life(as_user: Any, artifacts_dir: Any) -> None:
    agent, finance, manager = factories.agent(), factories.finance(), factories.manager()
    refund = factories.make_request(requested_amount=Decimal("100.00"),
                                    documents=[DocumentUpload("receipt.png", PNG, "image/png")])
    for i in range(6):  # a queue worth a screenshot
        factories.make_request(reason=["billing_error", "other", "service_unavailability"][i % 3],
                               requested_amount=Decimal(20 + i * 15))

    # --- the agent claims, asks for information, resumes, is refused, approves partially -----
    page = as_user("agent")
    page.goto("/admin/refunds/refundrequest/")
    page.wait_for_selector(f"text={refund.reference}")
    page.screenshot(path=str(artifacts_dir / "console-queue.png"), full_page=True)
    page.click(f"a:text('{refund.reference}')")
    act(page, "start_review")
    assert state_of(page) == "under review"

    act(page, "request_information", missing="A screenshot of the charge on your statement")
    assert state_of(page) == "information requested"
    assert "Review clock paused since" in page.locator('[data-testid="deadline"]').inner_text()

    act(page, "resume_review", note="Customer sent it by phone")
    assert state_of(page) == "under review"

    page.click('button[data-action="reevaluate"]')
    page.wait_for_selector("text=re-evaluated against the facts known now")

    # Above the refundable amount an agent is refused, and the page says why.
    act(page, "approve", amount="150.00")
    assert "manager's override" in page.locator(".messagelist, #main").first.inner_text()
    assert state_of(page) == "under review"

    for tab in ("history", "documents", "notes", "messages", "log", "evaluation"):
        page.click(f'button[data-tab="{tab}"]')
        page.locator(f'[data-panel="{tab}"]').wait_for(state="visible")
        if tab == "notes":
            page.fill('form[data-form="note"] textarea[name="body"]', "Partial: the API credit was used.")
            page.click('button[data-action="add_note"]')
            page.wait_for_selector("text=Note added.")
    page.screenshot(path=str(artifacts_dir / "console-review.png"), full_page=True)

    act(page, "approve", amount="60.00")
    assert state_of(page) == "approved"

    # --- finance records the payout -------------------------------------------------------
    page = as_user("finance")
    review(page, refund)
    act(page, "mark_paid", reference="ch_3PQ9", amount="60.00")
    assert state_of(page) == "paid"
    assert RefundRequest.objects.get(pk=refund.pk).payout.reference == "ch_3PQ9"

    # --- a manager overrides a denial recommendation with a written reason -------------------
    other = factories.make_request(reason="other", requested_amount=Decimal("100.00"))
    assert other.recommendation == "deny"
    page = as_user("manager")
    review(page, other)
    act(page, "start_review")
    act(page, "approve", amount="100.00", override_reason="Goodwill: our onboarding call went badly.")
    assert state_of(page) == "approved"
    assert RefundRequest.objects.get(pk=other.pk).override_reason.startswith("Goodwill")
    assert agent and finance and manager


def test_deny_withdraw_credit_reason_overcharge_and_queue_actions(as_user: Any, artifacts_dir: Any) -> None:
    agent, manager, finance = factories.agent(), factories.manager(), factories.finance()
    to_deny = services.refund_request_start_review(request=factories.make_request(), actor=agent)
    to_withdraw = factories.make_request()
    billing = services.refund_request_start_review(
        request=factories.make_request(reason="other", requested_amount=Decimal("30.00"),
                                       documents=[DocumentUpload("inv.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")]),
        actor=agent,
    )
    crypto = factories.make_request(invoice=factories.invoice_with_plan(payment_method="crypto"),
                                    reason="billing_error", requested_amount=Decimal("40.00"))
    services.refund_request_start_review(request=crypto, actor=manager)
    services.refund_request_approve(request=crypto, actor=manager, amount=Decimal("40.00"))

    page = as_user("agent")
    review(page, to_deny)
    act(page, "deny", codes="window_expired", message="Your request arrived after the 7-day window.")
    assert state_of(page) == "denied"

    review(page, to_withdraw)
    act(page, "withdraw", note="Customer withdrew by phone")
    assert state_of(page) == "withdrawn"

    review(page, billing)
    page.select_option('form[data-form="reason"] select[name="reason"]', "billing_error")
    page.click('button[data-action="change_reason"]')
    page.wait_for_selector("text=Reason changed")
    page.fill('form[data-form="overcharge"] input[name="amount"]', "12.50")
    page.click('button[data-action="set_overcharge"]')
    page.wait_for_selector("text=Verified overcharge saved")
    assert RefundRequest.objects.get(pk=billing.pk).refundable_amount == Decimal("12.50")

    # Queue actions: "Assign to…" goes through its intermediate page.
    page.goto("/admin/refunds/refundrequest/?state=under_review")
    page.check(f"tr:has-text('{billing.reference}') input[name=_selected_action]")
    page.select_option("select[name=action]", "assign_to")
    page.locator("button[name=index], button[type=submit]:near(select[name=action])").first.click()
    page.select_option("select[name=assignee]", str(manager.pk))
    page.click("button:text('Assign')")
    page.wait_for_selector("text=assigned to manager")
    assert RefundRequest.objects.get(pk=billing.pk).assignee == manager

    # Finance grants the credit a manager approved on a crypto payment.
    page = as_user("finance")
    review(page, crypto)
    act(page, "mark_credited", amount="40.00", note="Credit for the double charge")
    assert state_of(page) == "credited"
    assert finance


def test_manual_intake_in_the_browser(as_user: Any) -> None:
    factories.agent()
    invoice = factories.invoice_with_plan(number="INV-PHONE-1")
    page = as_user("agent")
    page.goto("/admin/refunds/refundrequest/add/")
    page.click(".select2-selection")
    page.fill(".select2-search__field", "PHONE")
    page.click(".select2-results__option:has-text('INV-PHONE-1')")
    page.select_option("select[name=reason]", "billing_error")
    page.fill("input[name=received_at_0]", "2026-05-06")
    page.fill("input[name=received_at_1]", "10:30")
    page.fill("input[name=requester_email]", invoice.customer.email)
    page.fill("input[name=requested_amount]", "25.00")
    page.set_input_files("input[name=documents]", [
        {"name": "a.png", "mimeType": "image/png", "buffer": PNG},
        {"name": "b.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"},
    ])
    page.click("button[name=_save]")
    page.wait_for_url(re.compile(r"/admin/refunds/refundrequest/\d+/change/"))
    refund = RefundRequest.objects.get(invoice=invoice)
    assert refund.documents.count() == 2 and refund.channel == "admin"
