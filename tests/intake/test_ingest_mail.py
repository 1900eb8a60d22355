"""Refund requests by email (section 4.1): new requests, replies, duplicates, triage, nothing lost."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.core.management import call_command
from factories import agent, finance, invoice_with_plan, kolkata, make_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from januscaler_refunds.intake import services as intake
from januscaler_refunds.intake.models import InboundMessage, TriageItem
from januscaler_refunds.refunds import services
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest

pytestmark = pytest.mark.django_db

NOW = kolkata(2026, 5, 6, 12)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 16 + b"a.txtPK\x05\x06" + b"\x00" * 18


def mail(
    subject: str,
    *,
    sender: str,
    body: str = "Please refund me under the 7-day money-back guarantee.",
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    message_id: str | None = None,
    in_reply_to: str | None = None,
    date: dt.datetime = NOW - dt.timedelta(hours=1),
    cte: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "billing@januscaler.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id or f"<{abs(hash((subject, sender, body)))}@client.example>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, cte=cte) if cte else msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, content in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def ingest(raw: bytes, location: str = "test") -> intake.IngestResult:
    return intake.ingest_raw_message(raw, location=location, now=NOW)


@pytest.fixture
def invoice():  # type: ignore[no-untyped-def]
    return invoice_with_plan(Decimal("100.00"))


# --- new requests ------------------------------------------------------------------------------


def test_a_request_by_email_becomes_a_request_with_its_documents_and_is_acknowledged(invoice) -> None:  # type: ignore[no-untyped-def]
    raw = mail(
        f"Refund Request: {invoice.number}",
        sender=f"Customer <{invoice.customer.email}>",
        html="<p>Please refund me under the <b>7-day money-back guarantee</b>.</p>",
        attachments=[("invoice.pdf", "application/pdf", PDF), ("screen.png", "image/png", PNG), ("logs.zip", "application/zip", ZIP)],
        message_id="<first@client.example>",
    )
    result = ingest(raw)
    assert result.outcome == "request"
    request = result.request
    assert request.channel == "email" and request.reason == "money_back_guarantee"
    assert request.thread_message_id == "first@client.example"
    assert request.received_at == NOW - dt.timedelta(hours=1)
    assert request.documents.count() == 3
    assert sorted(request.documents.values_list("source", flat=True)) == ["email"] * 3
    ack = CustomerMessage.objects.get(request=request, kind="acknowledgement")
    assert ack.status == "queued" and ack.to_email == invoice.customer.email
    assert request.reference in ack.subject
    assert request.review_due_at is not None
    assert f"{request.review_due_at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))):%-d %B %Y}" in ack.body
    assert InboundMessage.objects.get().request == request


def test_a_requested_amount_in_the_invoice_currency_is_kept(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         body="You overcharged me. Please refund $40.00, the invoice is wrong amount."))
    assert result.request.reason == "billing_error"
    assert result.request.requested_amount == Decimal("40.00")


def test_a_requested_amount_in_another_currency_is_left_for_the_agent(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email, body="Please refund €40,00."))
    assert result.outcome == "request" and result.request.requested_amount is None


@pytest.mark.parametrize(
    "subject_header",
    [
        "=?utf-8?B?{b64}?=",
        "=?iso-8859-1?Q?{qp}?=",
        "=?windows-1252?Q?{qp}?=",
        "=?koi8-r?B?{b64}?=",
        "=?shift_jis?B?{b64}?=",
    ],
)
def test_encoded_subjects_in_several_charsets_are_matched(invoice, subject_header: str) -> None:  # type: ignore[no-untyped-def]
    text = f"Refund Request: #{invoice.number.lower()}"
    charset = subject_header.split("?")[1]
    header = subject_header.format(
        b64=base64.b64encode(text.encode(charset)).decode(), qp=text.replace(" ", "_").replace(":", "=3A").replace("#", "=23")
    )
    raw = mail("placeholder", sender=invoice.customer.email).replace(b"Subject: placeholder", f"Subject: {header}".encode())
    assert ingest(raw).outcome == "request"


def test_a_quoted_printable_body_is_read(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         body="The service was down – outage all week, SLA breached. " * 5, cte="quoted-printable"))
    assert result.request.reason == "service_unavailability"
    assert "outage all week" in result.request.message


def test_a_different_sender_is_accepted_and_flagged(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender="someone.else@example.org"))
    assert result.outcome == "request"
    assert result.request.requester_email == "someone.else@example.org"
    assert "invoice_customer_mismatch" in result.request.evaluation_codes


def test_a_new_request_on_an_invoice_with_an_open_one_is_linked_as_a_duplicate(invoice) -> None:  # type: ignore[no-untyped-def]
    first = make_request(invoice=invoice, received_at=kolkata(2026, 5, 5))
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email))
    assert result.outcome == "request"
    assert result.request.duplicate_of == first
    assert "duplicate_request" in result.request.evaluation_codes


def test_a_filename_with_dot_dot_is_sanitised(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         attachments=[("../../etc/statement.pdf", "application/pdf", PDF)]))
    document = result.request.documents.get()
    assert document.name == "statement.pdf"
    assert ".." not in document.file.name


# --- replies -----------------------------------------------------------------------------------


def _info_requested(invoice):  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email,
                         message_id="<orig@mail.gmail.com>"))
    request = result.request
    user = agent()
    services.refund_request_start_review(request=request, actor=user)
    services.refund_request_request_information(request=request, actor=user, missing="Send a screenshot.")
    request.refresh_from_db()
    assert request.state == "info_requested"
    return request


def test_a_gmail_reply_threads_by_in_reply_to_and_resumes_the_review(invoice) -> None:  # type: ignore[no-untyped-def]
    request = _info_requested(invoice)
    raw = mail(
        f"Re: Refund Request: {invoice.number}",
        sender=invoice.customer.email,
        body="Here it is.\n\nOn Wed, 6 May 2026 at 10:00, Januscaler Billing <billing@januscaler.com> wrote:\n> Send a screenshot.",
        in_reply_to="<orig@mail.gmail.com>",
        attachments=[("screenshot.png", "image/png", PNG)],
        message_id="<reply1@mail.gmail.com>",
    )
    result = ingest(raw)
    assert result.outcome == "reply" and result.request == request
    request.refresh_from_db()
    assert request.state == "under_review"
    assert request.documents.filter(name="screenshot.png").exists()
    assert request.messages.filter(direction="in", message_id="reply1@mail.gmail.com").exists()
    assert request.log.filter(transition="resume_review", actor_label="system").exists()
    assert RefundRequest.objects.count() == 1


def test_an_outlook_reply_without_threading_headers_joins_the_open_request(invoice) -> None:  # type: ignore[no-untyped-def]
    request = _info_requested(invoice)
    body = (
        "Attached.\n\n________________________________\nFrom: Januscaler Billing <billing@januscaler.com>\n"
        f"Sent: Wednesday, May 6, 2026 10:00 AM\nSubject: Refund Request: {invoice.number}\n\nSend a screenshot."
    )
    result = ingest(mail(f"RE: Refund Request: {invoice.number} – received as {request.reference}",
                         sender=invoice.customer.email, body=body, attachments=[("log.pdf", "application/pdf", PDF)]))
    assert result.outcome == "reply" and result.request == request
    request.refresh_from_db()
    assert request.state == "under_review"


def test_a_reply_threaded_to_a_previous_reply_finds_the_request(invoice) -> None:  # type: ignore[no-untyped-def]
    request = _info_requested(invoice)
    ingest(mail(f"Re: Refund Request: {invoice.number}", sender=invoice.customer.email, in_reply_to="<orig@mail.gmail.com>",
                message_id="<r1@x>", body="first"))
    result = ingest(mail("Re: more", sender=invoice.customer.email, in_reply_to="<r1@x>", message_id="<r2@x>", body="second"))
    assert result.outcome == "reply" and result.request == request


def test_a_reply_on_a_closed_request_goes_to_triage(invoice) -> None:  # type: ignore[no-untyped-def]
    request = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email, message_id="<c@x>")).request
    services.refund_request_withdraw(request=request, actor=None)
    result = ingest(mail(f"Re: Refund Request: {invoice.number}", sender=invoice.customer.email, in_reply_to="<c@x>"))
    assert result.outcome == "triage" and result.triage.reason == "reply_to_closed"


# --- triage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"Subject: hello\nFrom: a@example.com\n\njust saying hi", "no_invoice_number"),
        (b"Subject: Refund Request: INV-1999-999999\nFrom: a@example.com\n\nplease", "unknown_invoice"),
        (b"Subject: Refund Request: INV-2026-000001\n\nno sender", "no_sender"),
        (b"", "unparseable"),
        (
            b"From: MAILER-DAEMON@example.com\nSubject: Undelivered Mail Returned to Sender\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n"
            b"Content-Type: text/plain\n\nRefund Request: INV-2026-000001 could not be delivered\n--b--\n",
            "automated",
        ),
    ],
)
def test_mail_that_cannot_be_placed_lands_in_triage_with_a_reason(raw: bytes, reason: str) -> None:
    invoice_with_plan(number="INV-2026-000001")
    result = ingest(raw)
    assert result.outcome == "triage"
    assert result.triage.reason == reason
    assert InboundMessage.objects.count() == 1


def test_a_request_received_before_the_first_policy_version_is_triaged_with_the_rule(invoice) -> None:  # type: ignore[no-untyped-def]
    result = ingest(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email, date=dt.datetime(2024, 6, 1, tzinfo=dt.UTC)))
    assert result.outcome == "triage" and result.triage.reason == "refused"
    assert "No refund policy was in force" in result.triage.detail
    assert not RefundRequest.objects.exists()


def test_an_agent_attaches_a_triage_item_as_a_request(invoice) -> None:  # type: ignore[no-untyped-def]
    item = ingest(mail("Please give my money back", sender=invoice.customer.email)).triage
    user = agent("triager")
    user.user_permissions.add(*__import__("django.contrib.auth.models", fromlist=["Permission"]).Permission.objects.filter(codename="resolve_triageitem"))
    user = type(user).objects.get(pk=user.pk)
    item = intake.triage_attach(item=item, actor=user, invoice=invoice, reason="money_back_guarantee", note="Subject had no number")
    assert item.status == "attached" and item.request.invoice == invoice
    assert item.message.outcome == "request" and item.resolved_by == user
    with pytest.raises(services.TransitionRefused):
        intake.triage_discard(item=item, actor=user, note="again")


def test_discarding_needs_a_note_and_the_permission(invoice) -> None:  # type: ignore[no-untyped-def]
    item = ingest(b"Subject: hi\nFrom: a@example.com\n\nspam").triage
    # Finance has no triage permission (agents do, through their role).
    with pytest.raises(services.TransitionRefused):
        intake.triage_discard(item=item, actor=finance("plain"), note="spam")
    assert intake.triage_discard(item=item, actor=agent("triage-agent"), note="spam").status == "discarded"
    item = ingest(b"Subject: hi again\nFrom: b@example.com\n\nspam").triage
    with pytest.raises(services.TransitionRefused):
        intake.triage_discard(item=item, actor=None, note=" ")
    assert intake.triage_discard(item=item, actor=None, note="spam").status == "discarded"


# --- malformed and huge ------------------------------------------------------------------------


def _malformed(number: str, sender: str) -> dict[str, bytes]:
    head = f"From: {sender}\nSubject: Refund Request: {number}\nMessage-ID: <{{n}}@x>\n"
    return {
        "missing_boundaries": (head + 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="zz"\n\n'
                               "--zz\nContent-Type: text/plain\n\nplease refund\n--zz\nContent-Type: application/pdf\n"
                               "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n").encode(),
        "broken_headers": (head + "Content-Type: text/plain; charset=\"unterminated\nX-Bad Header Line\n: nothing\n"
                           "Date: not a date\n\nplease refund").encode(),
        "no_content_type": (head + "\nplease refund \xe9".encode("latin-1").decode("latin-1")).encode("latin-1"),
        "bad_base64": (head + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!").encode(),
        "bad_charset": (head + "Content-Type: text/plain; charset=x-unknown-42\n\nrefund \xff\xfe").encode("latin-1"),
    }


def test_malformed_requests_each_end_somewhere_and_none_is_lost(invoice) -> None:  # type: ignore[no-untyped-def]
    cases = _malformed(invoice.number, invoice.customer.email)
    outcomes = {}
    for n, (name, raw) in enumerate(cases.items()):
        outcomes[name] = ingest(raw.replace(b"{n}", str(n).encode()), location=name).outcome
    assert set(outcomes.values()) <= {"request", "reply", "triage"}
    assert InboundMessage.objects.count() == len(cases)
    assert not TriageItem.objects.filter(reason="internal_error").exists()


def test_a_30_mb_message_is_stored_and_triaged_as_too_large(invoice) -> None:  # type: ignore[no-untyped-def]
    big = base64.encodebytes(b"\x00" * (23 * 1024 * 1024))
    raw = mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email)
    raw = raw.replace(b"Please refund", b"X-Pad: 1\n\nPlease refund", 0) + b"\n" + big
    assert len(raw) > 30 * 1000 * 1000
    result = ingest(raw)
    assert result.outcome == "triage" and result.triage.reason == "too_large"
    assert result.message.size == len(raw)
    assert ingest(raw).outcome == "duplicate"


def test_the_same_message_twice_is_ingested_once_even_with_crlf_and_trace_headers(invoice) -> None:  # type: ignore[no-untyped-def]
    raw = mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email)
    assert ingest(raw).outcome == "request"
    assert ingest(raw).outcome == "duplicate"
    relayed = b"Received: from mx by imap; Wed, 6 May 2026\r\n" + raw.replace(b"\n", b"\r\n")
    assert ingest(relayed).outcome == "duplicate"
    assert (InboundMessage.objects.count(), RefundRequest.objects.count()) == (1, 1)


def test_ingest_mail_reads_eml_mbox_and_maildir(invoice, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "one.eml").write_bytes(mail(f"Refund Request: {invoice.number}", sender=invoice.customer.email))
    (tmp_path / "box.mbox").write_bytes(b"From x@y Wed May  6 10:00:00 2026\n" + mail("hello", sender="a@b.example") + b"\n")
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes(b"Subject: spam\nFrom: s@spam.example\n\nbuy")
    call_command("ingest_mail", str(tmp_path / "one.eml"), str(tmp_path / "box.mbox"), str(maildir))
    assert capsys.readouterr().out.strip() == (
        "1 requests, 0 replies, 2 triage items, 0 duplicates (already ingested), 0 errors"
    )


# --- property-based: anything in, one InboundMessage out ------------------------------------------

_mime = st.recursive(
    st.builds(
        lambda ctype, body, cte: f"Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n\n{body}\n",
        st.sampled_from(["text/plain", "text/html", "application/pdf", "image/png", "message/rfc822", "text/plain; charset=utf-16"]),
        st.text(max_size=80),
        st.sampled_from(["7bit", "base64", "quoted-printable", "x-bogus"]),
    ),
    lambda children: st.builds(
        lambda parts, boundary, close: f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        + "".join(f"--{boundary}\n{p}" for p in parts)
        + (f"--{boundary}--\n" if close else ""),
        st.lists(children, max_size=3),
        st.sampled_from(["a", "b", "=_x"]),
        st.booleans(),
    ),
    max_leaves=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=400), _mime.map(lambda s: ("From: a@b.example\nSubject: Refund Request: INV-2026-000777\n" + s).encode("utf-8", "surrogatepass"))))
def test_any_input_is_accounted_for(raw: bytes) -> None:
    before = InboundMessage.objects.count()
    result = ingest(raw)
    if result.outcome == "duplicate":
        assert InboundMessage.objects.count() == before
    else:
        assert InboundMessage.objects.count() == before + 1
        assert result.outcome in {"request", "reply", "triage"}
