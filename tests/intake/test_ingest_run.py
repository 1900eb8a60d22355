"""The ingest run's shortcuts give what the plain paths give (issue 14): the evaluation stored with a
request created from prefetched history equals a fresh one-by-one evaluation, the earlier open
request is linked as before, and the fingerprint hashed in chunks equals the one-piece hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.db import connection
from factories import invoice_with_plan, kolkata, make_request

from januscaler_refunds.intake import services as intake
from januscaler_refunds.intake.parsing import parse_message
from januscaler_refunds.intake.run import IngestRun
from januscaler_refunds.refunds import evaluation

pytestmark = pytest.mark.django_db

NOW = kolkata(2026, 5, 6, 12)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def mail(subject: str, *, sender: str, body: str = "Please refund me.", attachments: list[tuple[str, str, bytes]] = ()) -> bytes:  # type: ignore[assignment]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "billing@januscaler.com", subject
    msg["Date"] = format_datetime(NOW - dt.timedelta(hours=1))
    msg["Message-ID"] = f"<{abs(hash((subject, sender, body)))}@client.example>"
    msg.set_content(body)
    for filename, ctype, content in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def ingest(raw: bytes) -> intake.IngestResult:
    return intake.ingest_raw_message(raw, location="test", now=NOW)


def _without_time(snapshot: dict) -> dict:  # type: ignore[type-arg]
    return {k: v for k, v in snapshot.items() if k != "evaluated_at"}


@pytest.mark.parametrize("body", [
    "Please refund me under the 7-day money-back guarantee, $40.00.",
    "The service was down all week, an outage; refund the SLA credit.",
    "You charged me twice, a billing error.",
])
def test_a_request_from_mail_stores_the_evaluation_a_fresh_one_gives(body: str) -> None:
    invoice = invoice_with_plan(Decimal("100.00"))
    earlier = make_request(invoice=invoice, received_at=kolkata(2026, 5, 5, 9))  # open: the new one is its duplicate
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email, body=body,
                         attachments=[("receipt.pdf", "application/pdf", PDF)]))
    request = result.request
    assert result.outcome == "request" and request is not None
    request.refresh_from_db()
    assert request.duplicate_of_id == earlier.pk
    assert request.documents.count() == 1
    fresh = evaluation.run_evaluation(request, now=request.evaluated_at)
    assert _without_time(request.evaluation) == _without_time(fresh.to_dict())
    assert request.recommendation == fresh.recommendation and request.refundable_amount == fresh.refundable_amount


def test_one_run_for_many_messages_reads_its_shared_rows_once(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    run = IngestRun()
    invoices = [invoice_with_plan(Decimal("80.00")) for _ in range(3)]
    run.policy_versions, run.calendar, run.queries  # noqa: B018 - warm the run
    # Reads: lookup and history, one round trip each on PostgreSQL (2 + 7 statements one by one on
    # SQLite); writes: nextval, request, log, acknowledgement, message; + two savepoint pairs (the
    # test holds the transaction).
    reads = 2 if connection.vendor == "postgresql" else 9
    for invoice in invoices:
        with django_assert_max_num_queries(reads + 5 + 4):
            result = intake.ingest_raw_message(
                mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email), location="t", now=NOW, run=run
            )
        assert result.outcome == "request"


def _old_fingerprint(raw: bytes, message_id: str) -> str:
    """The fingerprint as it was computed before the chunked hashing (one copy per step)."""
    text = raw.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    digest = hashlib.sha256(b"mid:" + message_id.encode("utf-8", "replace") + b"\n")
    for line in re.sub(rb"\n[ \t]+", b" ", head).split(b"\n"):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in intake._AUTHOR_HEADERS:
            digest.update(name.strip().lower() + b":" + b" ".join(value.split()) + b"\n")
    digest.update(b"\n" + (body if sep else b""))
    return digest.hexdigest()


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
@pytest.mark.parametrize("pad", [0, 1, 2, 3])
def test_the_chunked_fingerprint_equals_the_one_piece_hash(newline: bytes, pad: int) -> None:
    head = newline.join([b"From: a@example.com", b"Subject: Refund Request: INV-1", b"Message-ID: <x@y>",
                         b"Received: from somewhere", b"  folded"]) + newline + newline
    # A body whose CRLFs straddle the 1 MiB chunk edges, lone CRs and LFs included.
    line = b"x" * (997 + pad) + b"\r\n" + b"y\r" + b"\n\r"
    raw = head + line * (3 * (1 << 20) // len(line)) + b"end\r"
    parsed = parse_message(raw)
    assert intake.message_fingerprint(raw, parsed) == _old_fingerprint(raw, "x@y")
    no_body = newline.join([b"From: a@example.com", b"Message-ID: <x@y>"])
    assert intake.message_fingerprint(no_body, parse_message(no_body)) == _old_fingerprint(no_body, "x@y")
