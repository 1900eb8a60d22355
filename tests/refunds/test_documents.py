"""Supporting documents (issue 15, item 1c): an allowlist judged by sniffed content, a size limit
enforced while reading in chunks, nothing stored on refusal, and "Add documents" on open requests."""

from __future__ import annotations

import io
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from factories import agent, finance, invoice_with_plan, make_request

from januscaler_refunds.refunds import evaluation, review_services, services
from januscaler_refunds.refunds.models import RefundDocument, RefundRequest, TransitionLog
from januscaler_refunds.refunds.services import DocumentUpload, TransitionRefused

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
TEXT = b"2026-05-05 10:00:01 ERROR payment gateway charged twice for order 1234\n"
EML = b"From: a@example.com\r\nTo: billing@example.com\r\nSubject: Receipt\r\nDate: Tue, 5 May 2026 10:00:00 +0530\r\n\r\nPaid.\r\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
ZIP = b"PK\x03\x04" + b"\x00" * 40


def _stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def _billing_error(**kwargs: Any) -> RefundRequest:
    return make_request(reason="billing_error", requested_amount=Decimal("20.00"), **kwargs)


# --- the allowlist --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "stored_type"),
    [
        ("invoice.pdf", PDF, "application/pdf"),
        ("shot.png", PNG, "image/png"),
        ("photo.jpeg", JPEG, "image/jpeg"),
        ("anim.gif", GIF, "image/gif"),
        ("shot.webp", WEBP, "image/webp"),
        ("errors.log", TEXT, "text/plain"),
        ("receipt.eml", EML, "message/rfc822"),
        ("no-extension", PNG, "image/png"),
    ],
)
def test_accepted_types_are_stored_with_their_sniffed_type(name: str, content: bytes, stored_type: str) -> None:
    request = _billing_error()
    upload = DocumentUpload(name, content, "application/octet-stream")
    document = services.document_attach(request=request, upload=upload, actor=agent())
    assert document is not None and document.content_type == stored_type
    assert document.file.read() == content


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("malware.pdf", EXE, "application/pdf"),  # an .exe renamed .pdf
        ("malware.exe", EXE, "application/x-msdownload"),
        ("notes.html", HTML, "text/html"),
        ("notes.txt", HTML, "text/plain"),  # HTML content under a text name
        ("notes.html", TEXT, "text/plain"),  # text content a browser would still render as a page
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "image/svg+xml"),
        ("logs.zip", ZIP, "application/zip"),
        ("empty.pdf", b"", "application/pdf"),
    ],
)
def test_a_disallowed_document_is_refused_and_nothing_is_stored(
    name: str, content: bytes, declared: str, settings: Any
) -> None:
    request = _billing_error()
    with pytest.raises(TransitionRefused) as refused:
        services.document_attach(request=request, upload=DocumentUpload(name, content, declared), actor=agent())
    assert refused.value.rule == "documents.type"
    assert name in refused.value.message and "Accepted: PDF" in refused.value.message
    assert not RefundDocument.objects.filter(request=request).exists()
    assert _stored_files(Path(settings.MEDIA_ROOT)) == []


def test_one_byte_over_the_limit_is_refused_and_exactly_the_limit_is_accepted(settings: Any) -> None:
    settings.MAX_DOCUMENT_BYTES = 200_000  # larger than one chunk, so the limit is checked across chunks
    request, user = _billing_error(), agent()
    at_limit = PDF + b" " * (200_000 - len(PDF))
    assert services.document_attach(request=request, upload=DocumentUpload("a.pdf", at_limit), actor=user)
    with pytest.raises(TransitionRefused) as refused:
        services.document_attach(request=request, upload=DocumentUpload("b.pdf", at_limit + b" "), actor=user)
    assert refused.value.rule == "documents.size" and "200,000 bytes" in refused.value.message
    assert RefundDocument.objects.filter(request=request).count() == 1


# --- manual intake ("Log a request") --------------------------------------------------------------


def test_log_a_request_with_an_exe_renamed_pdf_creates_nothing(settings: Any) -> None:
    invoice = invoice_with_plan()
    with pytest.raises(TransitionRefused):
        make_request(invoice=invoice, reason="billing_error",
                     documents=[DocumentUpload("invoice.pdf", PDF), DocumentUpload("malware.pdf", EXE)])
    assert not RefundRequest.objects.filter(invoice=invoice).exists()
    assert not RefundDocument.objects.exists()
    # The accepted first file reached storage before the refusal; it is removed again.
    assert _stored_files(Path(settings.MEDIA_ROOT)) == []


def test_the_intake_page_refuses_a_disallowed_document_with_a_clear_error() -> None:
    invoice = invoice_with_plan()
    client = Client()
    client.force_login(agent())
    response = client.post(reverse("admin:refunds_refundrequest_add"), {
        "invoice": invoice.pk, "reason": "billing_error", "received_at_0": "2026-05-06", "received_at_1": "10:00",
        "requester_email": invoice.customer.email, "message": "double charge", "requested_amount": "20.00",
        "documents": [SimpleUploadedFile("notes.html", HTML, "text/html")],
    })
    assert response.status_code == 200
    assert "notes.html was not added" in response.content.decode()
    assert not RefundRequest.objects.filter(invoice=invoice).exists()


# --- "Add documents" on the review page -----------------------------------------------------------


def test_adding_a_document_re_evaluates_and_is_logged() -> None:
    user = agent()
    request = _billing_error()
    assert "missing_documentation" in request.evaluation_codes
    review_services.refund_request_add_documents(request=request, actor=user,
                                                 uploads=[DocumentUpload("statement.pdf", PDF)])
    request = RefundRequest.objects.get(pk=request.pk)
    assert "missing_documentation" not in request.evaluation_codes
    log = TransitionLog.objects.get(request=request, transition="add_documents")
    assert log.actor == user and "statement.pdf" in log.note


def test_adding_documents_is_all_or_nothing(settings: Any) -> None:
    request = _billing_error()
    with pytest.raises(TransitionRefused):
        review_services.refund_request_add_documents(
            request=request, actor=agent(),
            uploads=[DocumentUpload("ok.pdf", PDF), DocumentUpload("notes.html", HTML)])
    assert not RefundDocument.objects.filter(request=request).exists()
    assert not TransitionLog.objects.filter(request=request, transition="add_documents").exists()
    assert _stored_files(Path(settings.MEDIA_ROOT)) == []


def test_documents_cannot_be_added_after_a_decision_or_by_finance() -> None:
    user = agent()
    request = services.refund_request_start_review(request=make_request(), actor=user)
    request = services.refund_request_deny(request=request, actor=user, codes=["window_expired"], message="Late.")
    with pytest.raises(TransitionRefused) as refused:
        review_services.refund_request_add_documents(request=request, actor=user, uploads=[DocumentUpload("a.pdf", PDF)])
    assert refused.value.rule == "documents.open_requests_only"
    with pytest.raises(TransitionRefused) as refused:
        review_services.refund_request_add_documents(request=make_request(), actor=finance(),
                                                     uploads=[DocumentUpload("a.pdf", PDF)])
    assert refused.value.rule == "permission.add_documents"


def test_the_review_page_form_adds_a_document() -> None:
    user = agent()
    request = _billing_error()
    client = Client()
    client.force_login(user)
    page = client.get(reverse("admin:refunds_refundrequest_change", args=[request.pk])).content.decode()
    assert 'data-form="add_documents"' in page
    client.post(reverse("admin:refunds_refundrequest_documents", args=[request.pk]),
                {"documents": [SimpleUploadedFile("shot.png", PNG, "image/png")]})
    assert list(RefundDocument.objects.filter(request=request).values_list("name", "content_type")) == [
        ("shot.png", "image/png")]


# --- only accepted documents count as supporting documentation (section 3) ------------------------


def test_an_email_attachment_outside_the_allowlist_is_kept_but_does_not_count() -> None:
    request = _billing_error()
    services.document_attach(request=request, upload=DocumentUpload("logs.zip", ZIP, "application/zip", source="email"))
    assert RefundDocument.objects.get(request=request).content_type == "application/zip"
    assert evaluation.load_facts(request).request.document_count == 0
    services.document_attach(request=request, upload=DocumentUpload("notes.html", HTML, "text/html", source="email"))
    assert RefundDocument.objects.get(request=request, name="notes.html").content_type == "text/html"
    assert evaluation.load_facts(request).request.document_count == 0


# --- a 300 MB upload streams through in bounded memory --------------------------------------------

BOUNDARY = "jcboundary7MA4YWxkTrZu0gW"


class MultipartStream(io.RawIOBase):
    """A multipart/form-data body with one ``size``-byte PDF, generated as it is read (the test
    itself never holds the upload in memory either)."""

    def __init__(self, size: int) -> None:
        self.head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"documents\"; filename=\"huge.pdf\"\r\n"
                     "Content-Type: application/pdf\r\n\r\n").encode() + b"%PDF-1.4\n"
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.body = size - len(b"%PDF-1.4\n")
        self.length = len(self.head) + self.body + len(self.tail)
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.length - self.position
        out = bytearray()
        while size > 0 and self.position < self.length:
            pos = self.position
            if pos < len(self.head):
                piece = self.head[pos:pos + size]
            elif pos < len(self.head) + self.body:
                piece = bytes(min(size, len(self.head) + self.body - pos, 1 << 16))
            else:
                start = pos - len(self.head) - self.body
                piece = self.tail[start:start + size]
            out += piece
            self.position += len(piece)
            size -= len(piece)
        return bytes(out)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def test_a_300_mb_streamed_upload_is_refused_in_bounded_memory(settings: Any) -> None:
    assert django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 1024 * 1024  # Django spools big uploads to disk
    request = _billing_error()
    client = Client()
    client.force_login(agent())
    url = reverse("admin:refunds_refundrequest_documents", args=[request.pk])
    client.get(reverse("admin:refunds_refundrequest_change", args=[request.pk]))  # warm up imports and caches
    stream = MultipartStream(300 * 1024 * 1024)
    rss_before = _rss_bytes()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        response = client.generic(
            "POST", url, b"",
            # With no data the client sets neither type nor length: the streamed body brings its own.
            **{"wsgi.input": stream, "CONTENT_LENGTH": str(stream.length),
               "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = _rss_bytes() - rss_before
    print(f"300 MB upload: tracemalloc peak growth {(peak - before) / 2**20:.1f} MiB, "
          f"RSS growth {rss_growth / 2**20:.1f} MiB")
    assert stream.position == stream.length  # the whole body went through Django
    assert response.status_code == 302
    assert peak - before < 20 * 1024 * 1024
    assert rss_growth < 20 * 1024 * 1024
    assert not RefundDocument.objects.filter(request=request).exists()
    assert _stored_files(Path(settings.MEDIA_ROOT)) == []
    messages = [str(m) for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    assert any("larger than the limit" in m for m in messages), messages
