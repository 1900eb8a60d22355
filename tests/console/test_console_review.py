"""The review page, its edits, manual intake, and the read-only record admins."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factories
import pytest
from console.helpers import approved, change_url, client_as, fresh, under_review
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from januscaler_refunds.billing.models import LedgerEntry, Violation
from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import RefundRequest, TransitionLog
from januscaler_refunds.refunds.services import DocumentUpload

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_review_page_shows_checklist_breakdown_history_and_log(agent_user: Any) -> None:
    refund = factories.make_request(documents=[DocumentUpload("shot.png", PNG, "image/png")])
    customer = refund.customer
    factories.InvoiceFactory(customer=customer, number="INV-OLD-1", amount_paid=Decimal("0"))
    Violation.objects.create(customer=customer, kind="aup", opened_on=refund.invoice.issued_on)
    Chargeback.objects.create(ref="CB-9", invoice=refund.invoice, amount=Decimal("5"), currency="USD",
                              received_at=refund.received_at)
    LedgerEntry.objects.create(customer=customer, kind="chargeback_fee", amount=Decimal("15.00"), currency="USD",
                               description="fee", source_key="k1")
    LedgerEntry.objects.create(customer=customer, kind="payment", amount=Decimal("-5.00"), currency="USD",
                               description="paid", source_key="k2")
    html = client_as(agent_user).get(change_url(refund)).content.decode()
    for expected in ("What decides this request", "✓", "How the refundable amount adds up", "INV-OLD-1", "CB-9", "balance 10.00",
                     "Acceptable use policy", "shot.png", "create", 'data-testid="deadline"', "business day"):
        assert expected in html, expected


def test_info_requested_banner_says_the_clock_is_paused(agent_user: Any) -> None:
    refund = services.refund_request_request_information(request=under_review(agent_user), actor=agent_user,
                                                         missing="Your bank statement")
    html = client_as(agent_user).get(change_url(refund)).content.decode()
    assert "Review clock paused since" in html and "Your bank statement" in html


def test_documents_download_and_preview_inline(agent_user: Any, finance_user: Any) -> None:
    refund = factories.make_request(documents=[DocumentUpload("shot.png", PNG, "image/png")])
    doc = refund.documents.get()
    url = reverse("admin:refunds_refundrequest_document", args=[refund.pk, doc.pk])
    download = client_as(agent_user).get(url)
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == PNG
    preview = client_as(finance_user).get(url + "?inline=1")
    assert preview["Content-Disposition"].startswith("inline") and preview["Content-Type"] == "image/png"
    outsider = factories.make_user("outsider")
    assert client_as(outsider).get(url).status_code == 403


def test_agent_changes_the_reason_logged_and_reevaluated(agent_user: Any) -> None:
    refund = factories.make_request(reason="other")
    assert "not_a_ground_dissatisfaction" in refund.evaluation_codes
    client_as(agent_user).post(reverse("admin:refunds_refundrequest_reason", args=[refund.pk]),
                               {"reason": "money_back_guarantee", "note": "Asked within 7 days"})
    refund = fresh(refund)
    assert refund.reason == "money_back_guarantee"
    assert "not_a_ground_dissatisfaction" not in refund.evaluation_codes
    assert TransitionLog.objects.filter(request=refund, transition="change_reason").exists()


def test_agent_sets_the_verified_overcharge(agent_user: Any) -> None:
    refund = factories.make_request(reason="billing_error", requested_amount=Decimal("30.00"),
                                    documents=[DocumentUpload("inv.pdf", b"%PDF-1.4 x", "application/pdf")])
    client = client_as(agent_user)
    assert 'data-form="overcharge"' in client.get(change_url(refund)).content.decode()
    client.post(reverse("admin:refunds_refundrequest_overcharge", args=[refund.pk]), {"amount": "12.50"})
    refund = fresh(refund)
    assert refund.verified_overcharge == Decimal("12.50") and refund.refundable_amount == Decimal("12.50")


def test_notes_and_reevaluate(agent_user: Any) -> None:
    refund = factories.make_request()
    client = client_as(agent_user)
    client.post(reverse("admin:refunds_refundrequest_note", args=[refund.pk]), {"body": "Called the customer"})
    assert refund.notes.get().body == "Called the customer"
    RefundRequest.objects.filter(pk=refund.pk).update(recommendation="")
    client.post(reverse("admin:refunds_refundrequest_reevaluate", args=[refund.pk]))
    assert fresh(refund).recommendation == "approve"


def test_decided_requests_have_no_edits(agent_user: Any) -> None:
    refund = approved(agent_user)
    html = client_as(agent_user).get(change_url(refund)).content.decode()
    assert 'data-form="reason"' not in html and 'data-action="reevaluate"' not in html
    assert "payout due by" in html


# --- manual intake ------------------------------------------------------------------------------


def intake_data(invoice: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "invoice": invoice.pk, "reason": "billing_error", "received_at_0": "2026-05-06", "received_at_1": "11:00",
        "requester_email": invoice.customer.email, "message": "Charged twice", "requested_amount": "25.00",
        **overrides,
    }


def test_agent_logs_a_request_with_documents(agent_user: Any) -> None:
    invoice = factories.invoice_with_plan()
    files = [SimpleUploadedFile("a.png", PNG, "image/png"), SimpleUploadedFile("b.pdf", b"%PDF-1.4 y", "application/pdf")]
    client = client_as(agent_user)
    assert client.get(reverse("admin:refunds_refundrequest_add")).status_code == 200
    response = client.post(reverse("admin:refunds_refundrequest_add"), {**intake_data(invoice), "documents": files})
    refund = RefundRequest.objects.get(invoice=invoice)
    assert response.status_code == 302 and response["Location"] == change_url(refund)
    assert refund.channel == "admin" and refund.documents.count() == 2
    assert refund.requested_amount == Decimal("25.00") and refund.recommendation


def test_intake_before_the_first_policy_version_is_a_form_error(agent_user: Any) -> None:
    invoice = factories.invoice_with_plan()
    response = client_as(agent_user).post(
        reverse("admin:refunds_refundrequest_add"), intake_data(invoice, received_at_0="2024-12-01")
    )
    assert response.status_code == 200
    assert "No refund policy was in force" in response.content.decode()
    assert not RefundRequest.objects.exists()


def test_finance_cannot_log_requests(finance_user: Any) -> None:
    invoice = factories.invoice_with_plan()
    assert client_as(finance_user).post(reverse("admin:refunds_refundrequest_add"), intake_data(invoice)).status_code == 403
    assert not RefundRequest.objects.exists()


# --- read-only records --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["transitionlog", "payout", "accountcredit", "customermessage"])
def test_records_are_read_only_even_for_superusers(model: str, agent_user: Any) -> None:
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    refund = approved(agent_user)
    services.refund_request_record_payout(request=refund, actor=admin_user, method="card", reference="r", amount=Decimal("1"))
    client = client_as(admin_user)
    assert client.get(reverse(f"admin:refunds_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:refunds_{model}_add")).status_code == 403
    row = {"transitionlog": TransitionLog, "payout": None}.get(model)
    if row is TransitionLog:
        pk = TransitionLog.objects.first().pk
        assert client.post(reverse(f"admin:refunds_{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
        assert TransitionLog.objects.filter(pk=pk).exists()


def test_managers_edit_the_approval_limit(manager_user: Any, agent_user: Any) -> None:
    url = reverse("admin:refunds_approvallimit_add")
    assert client_as(agent_user).get(url).status_code == 403
    client_as(manager_user).post(url, {"currency": "USD", "agent_limit": "250.00"})
    from januscaler_refunds.refunds.models import ApprovalLimit

    assert ApprovalLimit.objects.get(currency="USD").agent_limit == Decimal("250.00")
