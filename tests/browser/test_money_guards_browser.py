"""Money guards and documents in headless Chromium (issue 15, item 1), as agent, finance and
manager: a refused and an accepted document, an approval above the requested amount, a payout by
another method refused until a manager records the exception. Screenshots go to var/artifacts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
import pytest
from browser.test_console import PNG, act, as_user, review, state_of  # noqa: F401 - as_user is a fixture

from januscaler_refunds.refunds.models import RefundDocument, RefundRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def _message(page: Any) -> str:
    return page.locator(".messagelist, #main").first.inner_text()


def test_documents_approval_above_requested_and_payout_method_exception(
    as_user: Any,  # noqa: F811 - the fixture imported from test_console
    artifacts_dir: Any,
) -> None:
    factories.agent(), factories.finance(), factories.manager()
    refund = factories.make_request(requested_amount=Decimal("40.00"))  # refundable 100.00, card invoice

    page = as_user("agent")
    review(page, refund)
    act(page, "start_review")

    # An .exe renamed .pdf is refused with a clear error; a PNG is added and listed.
    page.click('button[data-tab="documents"]')
    form = page.locator('form[data-form="add_documents"]')
    form.locator("input[name=documents]").set_input_files(
        [{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": EXE}])
    form.locator('button[data-action="add_documents"]').click()
    page.wait_for_load_state()
    assert "invoice.pdf was not added" in _message(page)
    assert not RefundDocument.objects.filter(request=refund).exists()
    page.click('button[data-tab="documents"]')
    form = page.locator('form[data-form="add_documents"]')
    form.locator("input[name=documents]").set_input_files([{"name": "shot.png", "mimeType": "image/png", "buffer": PNG}])
    form.locator('button[data-action="add_documents"]').click()
    page.wait_for_load_state()
    assert "Documents added" in _message(page)
    assert list(RefundDocument.objects.filter(request=refund).values_list("name", flat=True)) == ["shot.png"]

    # The approve form proposes the requested 40.00; 60.00 is refused until confirmed with a reason.
    page.click('summary[data-action="approve"]')
    approve = page.locator('form[data-form="approve"]')
    assert approve.locator('[name="amount"]').input_value() == "40.00"
    approve.locator('[name="amount"]').fill("60.00")
    approve.locator('button[data-submit="approve"]').click()
    page.wait_for_load_state()
    assert "more than the customer asked for" in _message(page)
    assert state_of(page) == "under review"
    page.click('summary[data-action="approve"]')
    approve = page.locator('form[data-form="approve"]')
    approve.locator('[name="amount"]').fill("60.00")
    approve.locator('[name="confirm_above_requested"]').check()
    approve.locator('[name="above_requested_reason"]').fill("The double charge we verified is 60.00")
    page.screenshot(path=str(artifacts_dir / "money-guards-approve.png"), full_page=True)
    approve.locator('button[data-submit="approve"]').click()
    page.wait_for_load_state()
    assert state_of(page) == "approved"

    # Finance cannot pay a card invoice by bank transfer...
    page = as_user("finance")
    review(page, refund)
    page.click('summary[data-action="mark_paid"]')
    page.locator('form[data-form="mark_paid"] [name="method"]').select_option("bank_transfer")
    act_form = page.locator('form[data-form="mark_paid"]')
    act_form.locator('[name="reference"]').fill("BT-1")
    act_form.locator('button[data-submit="mark_paid"]').click()
    page.wait_for_load_state()
    assert "original payment method" in _message(page)
    assert state_of(page) == "approved"
    assert page.locator('form[data-form="payout_method"]').count() == 0  # finance cannot record the exception

    # ...until a manager records the exception with its reason.
    page = as_user("manager")
    review(page, refund)
    exception = page.locator('form[data-form="payout_method"]')
    exception.locator('[name="method"]').select_option("bank_transfer")
    exception.locator('[name="reason"]').fill("The customer's card account was closed")
    exception.locator('button[data-action="allow_payout_method"]').click()
    page.wait_for_load_state()
    assert "Exception recorded" in _message(page)

    page = as_user("finance")
    review(page, refund)
    assert "card account was closed" in page.locator("#main").inner_text()
    page.click('summary[data-action="mark_paid"]')
    page.locator('form[data-form="mark_paid"] [name="method"]').select_option("bank_transfer")
    act_form = page.locator('form[data-form="mark_paid"]')
    act_form.locator('[name="reference"]').fill("BT-1")
    act_form.locator('button[data-submit="mark_paid"]').click()
    page.wait_for_load_state()
    assert state_of(page) == "paid"
    page.screenshot(path=str(artifacts_dir / "money-guards-paid.png"), full_page=True)
    paid = RefundRequest.objects.get(pk=refund.pk)
    assert paid.payout.method == "bank_transfer"
    assert "instead of your original payment method (card)" in paid.messages.get(kind="payout_confirmation").body
