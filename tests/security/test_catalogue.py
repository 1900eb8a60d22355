"""Every entry of the bad-input catalogue (catalogue.py), against the real services and views."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import models
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from factories import invoice_with_plan, kolkata, make_request
from security.catalogue import HTML, Case, by_kind

from januscaler_refunds.billing.models import Customer, LedgerEntry
from januscaler_refunds.chargebacks.models import SuspensionEvent
from januscaler_refunds.intake.models import InboundMessage, TriageItem
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import (
    CustomerMessage,
    RefundDocument,
    RefundRequest,
    TransitionLog,
)
from januscaler_refunds.refunds.services import DocumentUpload, TransitionRefused
from januscaler_refunds.reports.models import ExportRecord
from januscaler_refunds.reports.services import export_csv_stream, export_record_create

pytestmark = pytest.mark.django_db


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20))
    return client


def _document_url(document: RefundDocument) -> str:
    return reverse("admin:refunds_refundrequest_document", args=[document.request_id, document.pk])


# --- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", by_kind("oversized"), ids=_ids(by_kind("oversized")))
def test_oversized_uploads_are_refused_and_nothing_is_kept(case: Case, settings: Any) -> None:
    request = make_request()
    # An accepted type (PDF), so the size limit is what refuses it.
    content = b"%PDF-1.4\n" + b"\x00" * settings.MAX_DOCUMENT_BYTES + bytes(case.payload)  # type: ignore[arg-type]
    with pytest.raises(TransitionRefused) as refused:
        services.document_attach(request=request, upload=DocumentUpload("big.pdf", content, "application/pdf"))
    assert refused.value.rule == "documents.size"
    assert not RefundDocument.objects.filter(request=request).exists()
    assert not list(Path(settings.MEDIA_ROOT).rglob("*big*"))


@pytest.mark.parametrize("case", by_kind("filename"), ids=_ids(by_kind("filename")))
def test_hostile_file_names_stay_inside_the_requests_folder(case: Case, settings: Any) -> None:
    request = make_request()
    upload = DocumentUpload(str(case.payload), b"%PDF-1.4 receipt", "application/pdf")
    if case.expected == "refused":
        with pytest.raises(TransitionRefused):
            services.document_attach(request=request, upload=upload)
        assert not RefundDocument.objects.filter(request=request).exists()
        return
    document = services.document_attach(request=request, upload=upload)
    assert document is not None
    folder = (Path(settings.MEDIA_ROOT) / "documents" / request.reference).resolve()
    stored = Path(document.file.path).resolve()
    assert stored.parent == folder, stored
    assert stored.read_bytes() == b"%PDF-1.4 receipt"
    for bad in ("/", "\\", "\x00", "\r", "\n"):
        assert bad not in stored.name and bad not in document.name


@pytest.mark.parametrize("case", by_kind("polyglot"), ids=_ids(by_kind("polyglot")))
def test_polyglots_are_never_rendered_as_a_page(case: Case, superuser_client: Client) -> None:
    request = make_request()
    upload = DocumentUpload(f"file-{len(case.name)}", bytes(case.payload), case.content_type)
    if case.expected == "refused":
        with pytest.raises(TransitionRefused) as refused:
            services.document_attach(request=request, upload=upload)
        assert refused.value.rule.startswith("documents.")
        assert not RefundDocument.objects.filter(request=request).exists()
        return
    document = services.document_attach(request=request, upload=upload)
    assert document is not None
    for query in ("", "?inline=1"):
        response = superuser_client.get(_document_url(document) + query)
        assert response.status_code == 200
        assert response["X-Content-Type-Options"] == "nosniff"
        inline = not response["Content-Disposition"].startswith("attachment")
        if inline:  # previews are images and PDFs only; HTML and SVG are always downloads
            assert response["Content-Type"] in ("image/png", "image/gif", "image/jpeg", "application/pdf")
    media = f"/{settings_media_url()}{document.file.name}"
    assert Client().get(media).status_code == 404


def settings_media_url() -> str:
    from django.conf import settings

    return settings.MEDIA_URL.lstrip("/")


# --- CSV injection --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", by_kind("csv"), ids=_ids(by_kind("csv")))
def test_formulas_in_exported_cells_are_neutralised(case: Case) -> None:
    invoice = invoice_with_plan()
    Customer.objects.filter(pk=invoice.customer_id).update(name=str(case.payload))
    request = make_request(invoice=invoice)
    record = export_record_create(user=None, fmt="csv", source="command")
    data = b"".join(export_csv_stream(record=record, queryset=RefundRequest.objects.filter(pk=request.pk)))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["customer_name"] == "'" + str(case.payload)


# --- header injection ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", by_kind("header"), ids=_ids(by_kind("header")))
def test_header_payloads_never_become_headers(case: Case, superuser_client: Client) -> None:
    payload = str(case.payload)
    if "@" in payload.split("\n", 1)[0]:  # a requester address: refused with the rule named
        invoice = invoice_with_plan()
        with pytest.raises(TransitionRefused) as refused:
            services.refund_request_create(
                invoice=invoice, reason="money_back_guarantee", requester_email=payload,
                received_at=kolkata(invoice.issued_on.year, invoice.issued_on.month, invoice.issued_on.day)
                + dt.timedelta(days=2),
            )
        assert refused.value.rule == "request.requester_email"
        assert not any("attacker" in " ".join(m.recipients()) for m in mail.outbox)
        return
    request = make_request()
    document = services.document_attach(request=request, upload=DocumentUpload(payload, b"%PDF-1.4", "application/pdf"))
    assert document is not None
    response = superuser_client.get(_document_url(document))
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "attacker" not in str(response.cookies)  # only the session cookie, refreshed each request
    assert all("\n" not in v and "\r" not in v for v in response.headers.values())


# --- HTML and script in every text field shown in the admin -------------------------------------

PAYLOAD = "".join(str(case.payload) for case in HTML)
RAW_MARKERS = ('<script>alert("xss")</script>', "<img src=x onerror=alert(1)>")


def _text_fields(model: type[models.Model]) -> list[str]:
    names = []
    for field in model._meta.concrete_fields:
        if not isinstance(field, models.CharField | models.TextField) or field.choices or field.primary_key:
            continue
        if field.name == "password" or (field.max_length or 10_000) < len(PAYLOAD):
            continue
        names.append(field.attname)
    return names


@pytest.fixture
def hostile_rows() -> dict[type[models.Model], int]:
    """A row of every model with the payload in each of its free-text fields."""
    request = services.refund_request_start_review(request=make_request(message=PAYLOAD), actor=None)
    services.internal_note_add(request=request, actor=None, body=PAYLOAD)
    now = timezone.now()
    customer = request.customer
    # Append-only rows take the payload when they are written.
    inbound = InboundMessage.objects.create(
        content_hash="c" * 64, fingerprint="f" * 64, size=1, received_at=now, outcome="triage",
        **{f: PAYLOAD for f in _text_fields(InboundMessage) if f not in ("content_hash", "fingerprint")},
    )
    TriageItem.objects.create(message=inbound, reason=TriageItem.Reason.values[0], detail=PAYLOAD, note=PAYLOAD)
    TransitionLog.objects.create(request=request, at=now, actor_label=PAYLOAD, transition="note",
                                 from_state="under_review", to_state="under_review", note=PAYLOAD)
    CustomerMessage.objects.create(request=request, direction="in", kind="reply", to_email=PAYLOAD[:254],
                                   subject=PAYLOAD, body=PAYLOAD, message_id=PAYLOAD, status="received",
                                   last_error=PAYLOAD)
    LedgerEntry.objects.create(customer=customer, kind="adjustment", amount=Decimal("1.00"), currency="USD",
                               description=PAYLOAD, source_key=PAYLOAD)
    SuspensionEvent.objects.create(customer=customer, kind="suspended", at=now, actor_label=PAYLOAD, reason=PAYLOAD)
    ExportRecord.objects.create(actor_label=PAYLOAD, source="command", format="csv", query_string=PAYLOAD,
                                error=PAYLOAD)
    # Everything else is editable: put the payload into each free-text column of every admin model.
    rows: dict[type[models.Model], int] = {}
    for model in admin.site._registry:
        instance = model._default_manager.order_by("pk").first()
        if instance is None:
            continue
        fields = _text_fields(model)
        table = model._meta.db_table
        if fields and table not in APPEND_ONLY_TABLES and not model._meta.proxy:
            model._base_manager.filter(pk=instance.pk).update(**dict.fromkeys(fields, PAYLOAD))
        rows[model] = instance.pk
    return rows


APPEND_ONLY_TABLES = {
    "refunds_transitionlog", "refunds_payout", "refunds_accountcredit", "refunds_customermessage",
    "intake_inboundmessage", "chargebacks_suspensionevent", "chargebacks_disputetransition",
    "billing_ledgerentry", "reports_exportrecord",
}


def test_html_in_every_text_field_is_escaped_in_the_admin(
    hostile_rows: dict[type[models.Model], int], superuser_client: Client
) -> None:
    checked = 0
    for model, pk in hostile_rows.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages = [reverse("admin:{}_{}_changelist".format(*info))]
        try:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[pk]))
        except NoReverseMatch:
            pass
        for page in pages:
            response = superuser_client.get(page)
            if response.status_code in (302, 403, 404):
                continue  # e.g. a change view that redirects to the review page
            assert response.status_code == 200, page
            body = response.content.decode()
            for marker in RAW_MARKERS:
                assert marker not in body, f"unescaped payload on {page}"
            checked += 1
    # The review console too, where most customer text is shown.
    review = superuser_client.get(reverse("admin:refunds_refundrequest_change", args=[hostile_rows[RefundRequest]]))
    assert all(marker not in review.content.decode() for marker in RAW_MARKERS)
    assert "&lt;script&gt;" in review.content.decode()
    assert checked >= 20
