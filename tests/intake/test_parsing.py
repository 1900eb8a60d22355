"""parse_message on the real-world corpus (tests/corpus/mail) and on refund requests shaped like real mail."""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake import parsing  # noqa: E402
from januscaler_refunds.intake.parsing import (  # noqa: E402
    InvoiceCandidate,
    ParsedMessage,
    decode_header_text,
    extract_requested_amount,
    match_encoded_subject,
    match_subject,
    normalize_invoice_number,
    normalize_message_id,
    parse_message,
    propose_reason,
    sanitize_filename,
    sniff_content_type,
)

CORPUS = REPO / "tests" / "corpus" / "mail"  # shipped with the project; see its README
CORPUS_FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("LICENSE", "README.md"))
    if CORPUS.is_dir()
    else []
)
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"shared mail corpus not found at {CORPUS}"
)

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"


@pytest.fixture(autouse=True)
def _media_root() -> None:
    """Overrides the suite's settings-based fixture: parsing needs no Django (runs with -p no:django)."""


@pytest.fixture(autouse=True, scope="session")
def _celery_eager() -> None:
    """Overrides the suite's Celery fixture for the same reason."""


def corpus(name: str) -> bytes:
    matches = [p for p in CORPUS_FILES if p.name == name]
    if not matches:
        pytest.skip(f"{name} not in the shared corpus at {CORPUS}")
    return matches[0].read_bytes()


def assert_storable(parsed: ParsedMessage) -> None:
    """Every text field can go into a UTF-8 database column as it is."""
    texts = [
        parsed.subject,
        parsed.body_text,
        parsed.from_name or "",
        parsed.from_address or "",
        parsed.message_id or "",
        parsed.in_reply_to or "",
        *parsed.references,
        *parsed.to_addresses,
        *parsed.defects,
        *(a.filename for a in parsed.attachments),
    ]
    for text in texts:
        assert isinstance(text, str)
        text.encode("utf-8")  # raises on lone surrogates
        assert "\x00" not in text


def build(
    subject: str = "Refund Request: INV-2025-000123",
    body: str = "Hello, please refund my last invoice.\n\nThanks,\nAsha",
    *,
    sender: str = "Asha Rao <Asha.Rao@Example.com>",
    to: str = "billing@januscaler.com",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2025, 3, 3, 9, 30, tzinfo=UTC))
    message["Message-ID"] = "<req-1@mail.example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


# --- The shared corpus ------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_file_parses_without_error(path: Path) -> None:
    raw = path.read_bytes()
    parsed = parse_message(raw)

    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()
    assert parsed.size == len(raw)
    assert parsed.error is None
    assert "=?" not in parsed.subject  # encoded words are always decoded
    # None of the corpus is a refund request (README): nothing may look like one.
    assert parsed.invoice_number is None
    assert_storable(parsed)
    for attachment in parsed.attachments:
        assert len(attachment.sha256) == 64
        assert attachment.filename == sanitize_filename(attachment.filename, 1, "x")
        assert "/" not in attachment.filename and "\\" not in attachment.filename


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "bounce_broken-mime.eml",
        "bounce_delayed-broken.eml",
        "bounce_delayed.eml",
        "bounce_gmail-invalid-address.eml",
        "bounce_gmail-no-dns.eml",
        "bounce_mailbox-full.eml",
        "bounce_no-mx.eml",
        "bounce_office365.eml",
        "bounce_zed.eml",
        "mail_malformed_2.eml",
    ],
)
def test_corpus_bounces_are_automated_bounces(name: str) -> None:
    parsed = parse_message(corpus(name))
    assert parsed.is_automated
    assert parsed.automated_kind == "bounce"


@needs_corpus
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("disposition-notification.eml", "disposition_notification"),
        ("complaints_aol.eml", "feedback_report"),
        ("complaints_yahoo.eml", "feedback_report"),
        ("mail_test_16.eml", "bulk"),  # Precedence: junk
        ("from-encoding.eml", "bulk"),  # a mailing-list post, Precedence: bulk
        ("long-links.eml", None),  # a person writing from postmaster@ is not a bounce
        ("text-only.eml", None),
        ("iphone.eml", None),
    ],
)
def test_corpus_automated_kinds(name: str, kind: str | None) -> None:
    parsed = parse_message(corpus(name))
    assert parsed.automated_kind == kind
    assert parsed.is_automated is (kind is not None)


@needs_corpus
@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("bilingual-simple.eml", "Simple text. How are you? Как ты поживаешь?"),  # UTF-8 B
        ("mail_test_12.eml", "代开各地增值税发票"),  # GB2312 B
        ("mail_test_5.eml", "Je prépare mon été zéro complexe !"),  # ISO-8859-1 Q
        ("mail_test_13.eml", "New Webinar: So, You Have A Disaster... Now What?"),  # UTF-8 Q
        ("mail_test_17.eml", "Transferencia Interbancaria Banca en Línea"),  # UTF-8 B
        ("encoded-header.eml", "hello"),
    ],
)
def test_corpus_encoded_subjects_decode_to_text(name: str, subject: str) -> None:
    assert parse_message(corpus(name)).subject == subject


@needs_corpus
def test_gb2312_subject_is_read_as_gb18030_without_replacement_characters() -> None:
    parsed = parse_message(corpus("mail_test_9.eml"))
    assert parsed.subject.startswith("我把镜头拉近些")
    assert "\ufffd" not in parsed.subject


@needs_corpus
def test_encoded_and_8bit_display_names_decode() -> None:
    assert parse_message(corpus("encoded-header.eml")).from_name == "Foo, Bar"
    latin1 = parse_message(corpus("from-encoding.eml"))
    assert latin1.from_name == "Ingo Lütkebohle"  # a raw ISO-8859-1 byte in the header
    assert latin1.from_address == "ingo@blank.pages.de"
    assert "8-bit header not UTF-8: from" in latin1.defects
    assert latin1.is_reply
    assert parse_message(corpus("mail_test_18.eml")).from_name == "LastßlName, FirstName"
    assert parse_message(corpus("mail_test_12.eml")).from_name == "张先生"
    raw_utf8 = parse_message(corpus("mailformed-headers.eml"))
    assert raw_utf8.from_name is not None and raw_utf8.from_name.startswith("Юникод запрещен")


@needs_corpus
def test_display_name_that_is_an_address_does_not_hide_the_real_sender() -> None:
    parsed = parse_message(corpus("mail_test_19.eml"))  # From: alice@example.com <bob@example.com>
    assert parsed.from_address == "bob@example.com"


@needs_corpus
def test_attached_pdf_is_detected_as_pdf() -> None:
    parsed = parse_message(corpus("attached-pdf.eml"))
    assert parsed.body_text == "Test - body content"
    [pdf] = parsed.attachments
    assert pdf.filename == "test.pdf"
    assert pdf.declared_type == pdf.detected_type == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.size == len(pdf.content)
    assert pdf.rejected is None
    assert pdf.sha256 == hashlib.sha256(pdf.content).hexdigest()


@needs_corpus
def test_enclosed_endless_is_cut_at_the_part_limit() -> None:
    # The file is "endless" in width: one attached message with ~3,000 parts, only 3 levels deep.
    # The depth limit is exercised by test_deep_nesting_stops_at_the_depth_limit.
    parsed = parse_message(corpus("enclosed-endless.eml"))
    assert f"more than {parsing.MAX_MIME_PARTS} MIME parts" in parsed.defects
    assert parsed.subject == "Wow"
    assert parsed.body_text == "Hello"
    assert [a.detected_type for a in parsed.attachments] == ["message/rfc822"]


@needs_corpus
@pytest.mark.parametrize(
    ("name", "defect"),
    [
        ("missing-final-boundary.eml", "missing final boundary"),
        ("enclosed-broken.eml", "missing final boundary"),
        ("no-ctype.eml", "no Content-Type"),
        ("false-multipart.eml", "multipart without parts"),
        ("mailformed-headers.eml", "missing start boundary"),
        ("long-header.eml", "header too long: subject"),
    ],
)
def test_corpus_defects_are_reported(name: str, defect: str) -> None:
    assert defect in parse_message(corpus(name)).defects


@needs_corpus
def test_corpus_bodies() -> None:
    assert parse_message(corpus("missing-final-boundary.eml")).body_text == "Some body"
    assert parse_message(corpus("8bitmime.eml")).body_text.startswith("Превел")
    assert parse_message(corpus("no-ctype.eml")).body_text.startswith("Hello,\nI'm just testing")
    assert parse_message(corpus("relative.eml")).body_text.startswith("This is html and text")
    long_subject = parse_message(corpus("long-header.eml")).subject
    assert long_subject.startswith("Die heiße Zypernsonne quälte Max und Victoria ja böse")
    assert len(long_subject) <= parsing.MAX_HEADER_CHARS


@needs_corpus
def test_misdeclared_boundary_is_recovered_from_the_body() -> None:
    parsed = parse_message(corpus("mail_malformed_3.eml"))
    assert "multipart boundary recovered from the body" in parsed.defects
    assert "Problemas para visualizar" in parsed.body_text
    assert "<" not in parsed.body_text.split("\n", 1)[0]  # HTML was turned into text


@needs_corpus
def test_corpus_attachments() -> None:
    [photo] = parse_message(corpus("iphone.eml")).attachments
    assert (photo.filename, photo.detected_type) == ("photo.JPG", "image/jpeg")

    [bz2] = parse_message(corpus("bz2-attachment.eml")).attachments
    assert (bz2.filename, bz2.detected_type) == ("foo.txt.bz2", "application/x-bzip2")

    [png] = parse_message(corpus("mailgun-pic.eml")).attachments
    assert (png.filename, png.detected_type) == ("mailgun.png", "image/png")

    # A raw UTF-8 file name, cut mid-character by the sender, still reads as Cyrillic.
    [picture] = parse_message(corpus("russian-attachment-yahoo.eml")).attachments
    assert picture.filename.startswith("Картинка с очень, очень длинным")
    assert len(picture.filename) <= parsing.MAX_FILENAME_CHARS

    # Declared text/plain (an empty type with a name), content JPEG: accepted, detected type wins.
    spam = parse_message(corpus("spam_broken-ctype.eml"))
    [jpeg] = spam.attachments
    assert jpeg.detected_type == "image/jpeg" and jpeg.rejected is None
    assert any("but content is image/jpeg" in d for d in spam.defects)

    signed = parse_message(corpus("signed.eml"))
    assert "smime.p7s" in [a.filename for a in signed.attachments]


# --- Crafted refund requests ------------------------------------------------------------------------


def test_plain_refund_request() -> None:
    parsed = parse_message(build().as_bytes())
    assert parsed.error is None
    assert parsed.subject == "Refund Request: INV-2025-000123"
    assert parsed.invoice_number == "INV-2025-000123"
    assert parsed.invoice_candidates == [InvoiceCandidate("INV-2025-000123", "subject")]
    assert parsed.from_address == "asha.rao@example.com"
    assert parsed.from_name == "Asha Rao"
    assert parsed.to_addresses == ["billing@januscaler.com"]
    assert parsed.message_id == "req-1@mail.example.com"
    assert parsed.date == datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    assert parsed.body_text.startswith("Hello, please refund")
    assert not (parsed.is_reply or parsed.is_forward or parsed.is_automated)
    assert parsed.defects == []


def test_multipart_alternative_prefers_the_plain_text() -> None:
    message = build(body="Plain words: I was charged twice.")
    message.add_alternative("<p>HTML words</p>", subtype="html")
    parsed = parse_message(message.as_bytes())
    assert parsed.body_text == "Plain words: I was charged twice."
    assert parsed.attachments == []
    assert parsed.proposed_reason == "billing_error"


def test_html_only_body_becomes_readable_text() -> None:
    message = build()
    message.set_content(
        "<html><head><title>Mail</title><style>p {color: red}</style></head><body>"
        "<p>Hello&nbsp;team,</p><p>The service was <b>down</b> for 3 days &amp; I want a refund."
        "<br>Invoice: INV-2025-000777</p><script>alert('x')</script>"
        "<ul><li>first</li><li>second</li></ul></body></html>",
        subtype="html",
    )
    parsed = parse_message(message.as_bytes())
    lines = parsed.body_text.splitlines()
    assert lines[0] == "Hello team,"
    assert "The service was down for 3 days & I want a refund." in lines
    assert "Invoice: INV-2025-000777" in lines
    assert "- first" in lines and "- second" in lines
    assert "alert" not in parsed.body_text and "color" not in parsed.body_text
    assert "Mail" not in parsed.body_text
    assert parsed.proposed_reason == "service_unavailability"
    assert InvoiceCandidate("INV-2025-000777", "body") in parsed.invoice_candidates


def test_blank_plain_alternative_falls_back_to_html() -> None:
    message = build(body="\n")
    message.add_alternative("<div>Real words</div>", subtype="html")
    assert parse_message(message.as_bytes()).body_text == "Real words"


def test_pdf_png_zip_and_docx_attachments_are_sniffed() -> None:
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("statement.csv", "date,amount\n")
    message = build()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="screenshot.png")
    message.add_attachment(
        plain_zip.getvalue(), maintype="application", subtype="zip", filename="a.zip"
    )
    message.add_attachment(
        docx.getvalue(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="letter.docx",
    )
    parsed = parse_message(message.as_bytes())
    assert [(a.filename, a.detected_type, a.rejected) for a in parsed.attachments] == [
        ("invoice.pdf", "application/pdf", None),
        ("screenshot.png", "image/png", None),
        ("a.zip", "application/zip", None),
        (
            "letter.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            None,
        ),
    ]
    assert parsed.attachments[0].content == PDF
    assert parsed.defects == []


def test_inline_screenshot_without_a_name_is_kept_as_evidence() -> None:
    message = build()
    message.add_related(PNG, maintype="image", subtype="png", cid="<shot@x>")
    [shot] = parse_message(message.as_bytes()).attachments
    assert shot.filename == "attachment-1.png"
    assert shot.detected_type == "image/png"


@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "8bit"])
def test_transfer_encodings_with_declared_charset(cte: str) -> None:
    text = "Grüße — please refund €12,50 for INV-2025-000123.\n"
    for charset in ("utf-8", "iso-8859-15"):
        if charset == "iso-8859-15" and "—" in text:
            text = text.replace("—", "-")
        message = build()
        message.set_content(text, charset=charset, cte=cte)
        parsed = parse_message(message.as_bytes())
        assert parsed.body_text == text.strip()
        assert (parsed.requested_amount, parsed.requested_currency) == (Decimal("12.50"), "EUR")


def test_body_in_wrong_or_unknown_charset_is_still_read() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 and cr\xe8me\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.body_text.startswith("Caf")  # mixed bytes: no crash, replacement at worst
    raw = raw.replace(b"charset=us-ascii", b"charset=x-klingon").replace(b" and cr\xe8me", b"")
    parsed = parse_message(raw)
    assert parsed.body_text == "Café"
    assert "unknown charset x-klingon in body" in parsed.defects


def _encoded_word(text: str, charset: str, encoding: str) -> str:
    data = text.encode(charset)
    if encoding == "B":
        return f"=?{charset}?B?{base64.b64encode(data).decode()}?="
    quoted = "".join(
        chr(b) if b < 128 and chr(b).isalnum() else "_" if b == 32 else f"={b:02X}" for b in data
    )
    return f"=?{charset}?Q?{quoted}?="


@pytest.mark.parametrize(
    ("charset", "words"),
    [
        ("utf-8", "Rückerstattung bitte 🙏"),
        ("iso-8859-1", "Remboursement demandé"),
        ("koi8-r", "Возврат средств"),
        ("shift_jis", "返金のお願い"),
        ("gb2312", "退款申请"),
        ("windows-1251", "Прошу вернуть деньги"),
    ],
)
@pytest.mark.parametrize("encoding", ["B", "Q"])
def test_encoded_subjects_in_many_charsets(charset: str, words: str, encoding: str) -> None:
    raw_subject = f"Refund Request: INV-2025-000123 {_encoded_word(words, charset, encoding)}"
    message = build()
    del message["Subject"]
    message["Subject"] = "placeholder"
    raw = message.as_bytes().replace(b"Subject: placeholder", f"Subject: {raw_subject}".encode())
    parsed = parse_message(raw)
    assert parsed.subject == f"Refund Request: INV-2025-000123 {words}"
    assert parsed.invoice_number == "INV-2025-000123"
    assert match_encoded_subject(raw_subject) == "INV-2025-000123"


def test_multibyte_character_split_across_encoded_words_survives() -> None:
    data = "Возврат".encode()
    first, second = base64.b64encode(data[:5]).decode(), base64.b64encode(data[5:]).decode()
    assert decode_header_text(f"=?UTF-8?B?{first}?=\r\n =?UTF-8?B?{second}?=") == "Возврат"


def test_unknown_charset_in_subject_is_readable_and_reported() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: =?x-foo?B?"
        + base64.b64encode("Refund Request: INV-2025-000123 ✓".encode())
        + b"?=\r\n\r\nhi\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Refund Request: INV-2025-000123 ✓"
    assert parsed.invoice_number == "INV-2025-000123"
    assert "undecodable header: subject" in parsed.defects
    garbage = parse_message(raw.replace(b"=?x-foo?B?", b"=?x-foo?Q?=FF=FE").replace(b"?=", b"?="))
    assert garbage.error is None and "=?" not in garbage.subject


def test_outlook_shaped_reply() -> None:
    message = build(
        subject="RE: Refund Request: INV-2025-000123",
        body=(
            "Hi, we could not connect to the dashboard since Monday, the outage is still on.\n"
            "\n"
            "________________________________\n"
            "From: Januscaler Billing <billing@januscaler.com>\n"
            "Sent: Monday, March 3, 2025 10:00 AM\n"
            "To: Asha Rao <asha.rao@example.com>\n"
            "Subject: Refund Request: INV-2025-000123\n"
            "\n"
            "We received your request. Our 7-day money-back guarantee applies to first purchases.\n"
        ),
        Thread_Index="AdmMkVHfYdS4EjC7QX2ZKfGXkb5Smw==",
        Thread_Topic="Refund Request: INV-2025-000123",
        X_MS_Has_Attach="",
    )
    message.add_alternative(
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
        '<meta name="Generator" content="Microsoft Word 15"><!--[if gte mso 9]><xml>'
        '<o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->'
        "<style>p.MsoNormal {margin:0cm;}</style></head><body lang=EN-US>"
        "<div class=WordSection1><p class=MsoNormal>Hi, we could not connect.<o:p></o:p></p>"
        "</div></body></html>",
        subtype="html",
    )
    parsed = parse_message(message.as_bytes())
    assert parsed.is_reply and not parsed.is_forward
    assert parsed.invoice_number == "INV-2025-000123"
    # The quoted acknowledgement talks about the guarantee; the customer talks about an outage.
    assert parsed.proposed_reason == "service_unavailability"


def test_gmail_shaped_reply() -> None:
    message = build(
        subject="Re: Refund Request: INV-2025-000123",
        body=(
            "I was overcharged: please refund $49.00.\n"
            "\n"
            "On Mon, Mar 3, 2025 at 10:00 AM Januscaler Billing <\n"
            "billing@januscaler.com> wrote:\n"
            "\n"
            "> Our 7-day money-back guarantee covers USD 99.00 plans.\n"
            "> Reference INV-2025-000999\n"
        ),
        In_Reply_To=" <ack-1@januscaler.com> ",
        References="<req-0@mail.example.com> <ack-1@januscaler.com> <ack-1@januscaler.com>",
    )
    parsed = parse_message(message.as_bytes())
    assert parsed.is_reply
    assert parsed.in_reply_to == "ack-1@januscaler.com"
    assert parsed.references == ["req-0@mail.example.com", "ack-1@januscaler.com"]
    assert parsed.proposed_reason == "billing_error"
    assert (parsed.requested_amount, parsed.requested_currency) == (Decimal("49.00"), "USD")
    # Quoted text still yields invoice hints for agents, marked as coming from the body.
    assert InvoiceCandidate("INV-2025-000999", "body") in parsed.invoice_candidates


def test_forward_is_detected() -> None:
    parsed = parse_message(build(subject="WG: Fwd: Refund Request: INV-2025-000123").as_bytes())
    assert parsed.is_forward and not parsed.is_reply
    assert parsed.invoice_number == "INV-2025-000123"


def test_in_reply_to_alone_makes_a_reply() -> None:
    parsed = parse_message(build(In_Reply_To="<x@y>").as_bytes())
    assert parsed.is_reply


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "auto_reply"),
        ({"Auto-Submitted": "no"}, None),
        ({"X-Autoreply": "yes"}, "auto_reply"),
        ({"Precedence": "bulk"}, "bulk"),
        ({"Precedence": "list"}, "bulk"),
        ({"List-Unsubscribe": "<mailto:u@x>"}, "bulk"),
        ({"Subject": "Automatic reply: Refund Request: INV-2025-000123"}, "auto_reply"),
        ({"Subject": "Out of Office: back Monday"}, "auto_reply"),
        ({"Return-Path": "<>", "Subject": "Undelivered Mail Returned to Sender"}, "bounce"),
        ({"From": "MAILER-DAEMON@mx.example.com"}, "bounce"),
        ({"X-Failed-Recipients": "a@b.c"}, "bounce"),
    ],
)
def test_automated_mail(headers: dict[str, str], kind: str | None) -> None:
    message = build()
    for name, value in headers.items():
        del message[name]
        message[name] = value
    parsed = parse_message(message.as_bytes())
    assert parsed.automated_kind == kind
    assert parsed.is_automated is (kind is not None)


def test_missing_boundaries_are_survived() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: Refund Request: INV-2025-000123\r\n"
        b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
        b"--actual\r\nContent-Type: text/plain\r\n\r\nplease refund\r\n"
        b"--actual\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(PDF) + b"\r\n--actual--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.error is None
    assert parsed.invoice_number == "INV-2025-000123"
    assert parsed.body_text == "please refund"
    assert [a.detected_type for a in parsed.attachments] == ["application/pdf"]
    assert "multipart boundary recovered from the body" in parsed.defects

    no_close = raw.replace(b"\r\n--actual--\r\n", b"\r\n").replace(b"declared", b"actual")
    parsed = parse_message(no_close)
    assert "missing final boundary" in parsed.defects
    assert [a.detected_type for a in parsed.attachments] == ["application/pdf"]


def test_broken_headers_and_no_content_type() -> None:
    raw = (
        b"From Apr 1 junk envelope line\r\n"
        b"From: \xff\xfe <Weird@Example.COM>\r\n"
        b"Subject: =?utf-8?B?broken base64?= Refund Request #INV-2025-000123\r\n"
        b"Date: yesterday-ish\r\n"
        b"Message-ID: not even angle brackets \r\n"
        b"this line has no colon and ends the headers\r\n"
        b"body\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.error is None
    assert parsed.from_address == "weird@example.com"
    assert parsed.date is None
    assert parsed.message_id == "notevenanglebrackets"
    assert parsed.invoice_number == "INV-2025-000123"
    assert parsed.body_text.startswith("this line has no colon")
    for defect in ("no Content-Type", "unparseable Date", "missing blank line after headers"):
        assert defect in parsed.defects
    assert_storable(parsed)


def with_date(value: str) -> bytes:
    raw = build().as_bytes()
    start = raw.index(b"Date: ")
    end = raw.index(b"\n", start)
    return raw[:start] + b"Date: " + value.encode() + b"\r" + raw[end:]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Wed, 20 Sep 1995 00:19:00 (EDT) -0400", datetime(1995, 9, 20, 4, 19, tzinfo=UTC)),
        ("Mon, 1 Jan 2024 12:00:00 -0000", datetime(2024, 1, 1, 12, 0, tzinfo=UTC)),
        ("Tue, 10 Jul 2012 18:50:18 PDT", datetime(2012, 7, 11, 1, 50, 18, tzinfo=UTC)),
    ],
)
def test_dates_are_timezone_aware(raw: str, expected: datetime) -> None:
    parsed = parse_message(with_date(raw))
    assert parsed.date == expected
    assert parsed.date is not None and parsed.date.tzinfo is not None


def test_message_too_large_is_hashed_and_skipped_fast() -> None:
    message = build()
    message.add_attachment(
        PDF + b"0" * (30 * 1024 * 1024), maintype="application", subtype="pdf", filename="big.pdf"
    )
    raw = message.as_bytes()
    assert len(raw) > 30 * 1024 * 1024
    parsed = parse_message(raw)
    assert parsed.too_large
    assert "message too large" in parsed.defects
    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()
    assert parsed.size == len(raw)
    assert parsed.invoice_number == "INV-2025-000123"
    assert parsed.from_address == "asha.rao@example.com"
    assert parsed.body_text.startswith("Hello, please refund")
    assert parsed.attachments == []


def test_small_limit_marks_a_normal_message_too_large() -> None:
    parsed = parse_message(build().as_bytes(), max_message_bytes=100)
    assert parsed.too_large and parsed.subject == "Refund Request: INV-2025-000123"


def test_attachment_over_the_cap_is_rejected_but_described() -> None:
    content = PDF + b"x" * 5000
    message = build()
    message.add_attachment(content, maintype="application", subtype="pdf", filename="big.pdf")
    [attachment] = parse_message(message.as_bytes(), max_attachment_bytes=4096).attachments
    assert attachment.rejected == f"too large ({len(content)} bytes > 4096 bytes)"
    assert attachment.content == b""
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()


def test_path_traversal_file_names_are_sanitised() -> None:
    message = build()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="../../etc/passwd")
    message.add_attachment(
        PNG, maintype="image", subtype="png", filename="C:\\Users\\x\\..\\shot\x07.png"
    )
    parsed = parse_message(message.as_bytes())
    assert [a.filename for a in parsed.attachments] == ["passwd", "shot.png"]
    assert parsed.attachments[0].original_filename == "../../etc/passwd"


def test_encoded_file_names_are_decoded() -> None:
    message = build()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    raw = message.as_bytes()  # RFC 2231 by the stdlib generator
    assert [a.filename for a in parse_message(raw).attachments] == ["Rechnung März.pdf"]
    rfc2047 = raw.replace(
        b"filename*=utf-8''Rechnung%20M%C3%A4rz.pdf",
        b'filename="=?UTF-8?B?' + base64.b64encode("Счёт.pdf".encode()) + b'?="',
    )
    assert [a.filename for a in parse_message(rfc2047).attachments] == ["Счёт.pdf"]


def test_executable_disguised_as_pdf_is_rejected() -> None:
    message = build()
    message.add_attachment(EXE, maintype="application", subtype="pdf", filename="invoice.pdf")
    [attachment] = parse_message(message.as_bytes()).attachments
    assert attachment.filename == "invoice.pdf"
    assert attachment.detected_type == "application/x-msdownload"
    assert attachment.rejected == (
        "type mismatch: declared application/pdf but content is application/x-msdownload"
    )
    assert attachment.content == b""
    assert attachment.sha256 == hashlib.sha256(EXE).hexdigest()


@pytest.mark.parametrize(
    ("content", "filename", "declared", "reason"),
    [
        (EXE, "setup.bin", "application/octet-stream", "executable content"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "tool", "application/octet-stream", "executable"),
        (b"#!/bin/sh\nrm -rf ~\n", "notes.txt", "text/plain", "type mismatch"),
        (b"WScript.Echo 1\n", "refund.vbs", "text/plain", "dangerous file extension .vbs"),
        (PDF, "invoice.pdf.exe", "application/pdf", "dangerous file extension .exe"),
        (PDF, "invoice\u202efdp.exe", "application/pdf", "dangerous file extension .exe"),
    ],
)
def test_dangerous_attachments_are_rejected(
    content: bytes, filename: str, declared: str, reason: str
) -> None:
    maintype, subtype = declared.split("/")
    message = build()
    message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    [attachment] = parse_message(message.as_bytes()).attachments
    assert attachment.rejected is not None and reason in attachment.rejected
    assert attachment.content == b""


def test_archive_with_an_executable_inside_is_rejected() -> None:
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        archive.writestr("photos/20160523_211439.jpg_.exe", EXE)
    message = build()
    message.add_attachment(
        archive_bytes.getvalue(), maintype="application", subtype="zip", filename="photo.jpg_.zip"
    )
    [attachment] = parse_message(message.as_bytes()).attachments
    assert attachment.rejected == "archive contains an executable (20160523_211439.jpg_.exe)"


def test_harmless_type_mismatch_is_accepted_and_reported() -> None:
    message = build()
    message.add_attachment(PDF, maintype="image", subtype="png", filename="receipt.png")
    parsed = parse_message(message.as_bytes())
    [attachment] = parsed.attachments
    assert attachment.rejected is None
    assert attachment.declared_type == "image/png"
    assert attachment.detected_type == "application/pdf"
    assert attachment.content == PDF
    assert "receipt.png: declared image/png but content is application/pdf" in parsed.defects


def test_duplicate_attachments_are_collapsed() -> None:
    message = build()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="copy of a.pdf")
    assert [a.filename for a in parse_message(message.as_bytes()).attachments] == ["a.pdf"]


def _nested(levels: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: Refund Request: INV-2025-000123\r\n"
    body = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )
    body += b"Content-Type: text/plain\r\n\r\ndeep text\r\n"
    body += b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    return head + body


def test_deep_nesting_stops_at_the_depth_limit() -> None:
    parsed = parse_message(_nested(5000))
    assert parsed.error is None
    assert f"MIME nesting deeper than {parsing.MAX_MIME_DEPTH} levels" in parsed.defects
    assert parsed.invoice_number == "INV-2025-000123"
    shallow = parse_message(_nested(10))
    assert shallow.body_text == "deep text" and shallow.defects == []


def test_too_many_parts_stop_at_the_part_limit() -> None:
    parts = b"".join(
        b"--B\r\nContent-Type: application/octet-stream; name=f%d.bin\r\n\r\n%d\r\n" % (i, i)
        for i in range(5000)
    )
    raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" + parts
    parsed = parse_message(raw + b"--B--\r\n")
    assert f"more than {parsing.MAX_MIME_PARTS} MIME parts" in parsed.defects
    assert 0 < len(parsed.attachments) < parsing.MAX_MIME_PARTS


def test_body_text_is_capped() -> None:
    parsed = parse_message(build(body="refund " * 50_000).as_bytes())
    assert len(parsed.body_text) == parsing.MAX_BODY_CHARS
    assert "body text truncated" in parsed.defects


@pytest.mark.parametrize("raw", [b"", b"\x00\xff" * 10, b"garbage", b"\r\n\r\n", b"From "])
def test_junk_input_returns_a_result(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()
    assert parsed.size == len(raw)
    assert_storable(parsed)


def test_a_failing_step_keeps_the_other_results(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(draft: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parsing, "_classify_reason", explode)
    parsed = parse_message(build().as_bytes())
    assert parsed.error == "reason: RuntimeError: boom"
    assert parsed.invoice_number == "INV-2025-000123"
    assert parsed.body_text.startswith("Hello")


def test_a_failing_mime_parse_still_returns_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise MemoryError("pretend")

    monkeypatch.setattr(parsing, "_feed", explode)
    raw = build().as_bytes()
    parsed = parse_message(raw)
    assert parsed.error is not None and "MemoryError" in parsed.error
    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()


def test_parsing_modules_import_nothing_from_django() -> None:
    import subprocess

    from policy.test_policy_purity import WITHOUT_PACKAGE_INIT

    code = WITHOUT_PACKAGE_INIT + (
        "import sys; import januscaler_refunds.intake.parsing, januscaler_refunds.intake.sources;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- match_subject and friends ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("refund request: inv-2025-000123", "INV-2025-000123"),
        ("REFUND REQUEST:INV-2025-000123", "INV-2025-000123"),
        ("  Refund   Request :   INV-2025-000123  ", "INV-2025-000123"),
        ("Re: Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("RE : RE: Re:Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("Fwd: FW: AW: WG: SV: Antw: Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("[External] RE: Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("[EXT] [SPAM?] Refund Request: INV-2025-000123", "INV-2025-000123"),
        ("Refund Request: #INV-2025-000123", "INV-2025-000123"),
        ("Refund Request - INV-2025-000123", "INV-2025-000123"),
        ("Refund Request – INV-2025-000123", "INV-2025-000123"),
        ("Refund Request — INV–2025–000123", "INV-2025-000123"),
        ("Refund Request: INV-2025-000123.", "INV-2025-000123"),
        ("Refund Request: INV-2025-000123!!", "INV-2025-000123"),
        ("Refund Request: (INV-2025-000123)", "INV-2025-000123"),
        ("Refund Request: INV 2025 000123", "INV-2025-000123"),
        ("Refund Request: inv_2025_000123", "INV-2025-000123"),
        ("Refund Request: INV2025000123", "INV-2025-000123"),
        ("Refund Request：ＩＮＶ－２０２５－０００１２３", "INV-2025-000123"),
        ("Refund request for invoice INV-2025-000123 please", "INV-2025-000123"),
        ("Refund Request: Invoice #A-77/2024", "A-77/2024"),
        ("Refund Request: 2025/ABC_123", "2025/ABC_123"),
        ("Refund Request #12345", "12345"),
        ("Refund Request: 12345", "12345"),
        ("[INV-2025-000123] Refund Request", "INV-2025-000123"),
        ("Question about invoice no. 5531", "5531"),
        ("Please refund order #A1B2", "A1B2"),
        ("Rechnung Nr. 2024-17: Rückerstattung", "2024-17"),
        ("=?utf-8?Q?Refund_Request=3A_INV-2025-000123?=", "INV-2025-000123"),
        # negatives
        ("Refund Request", None),
        ("Refund Request: my last invoice", None),
        ("Refund Request: $49.00", None),
        ("Please refund me", None),
        ("Meeting at 10am tomorrow", None),
        ("Your order #12345 has shipped", None),
        ("COVID-19 update", None),
        ("", None),
        (None, None),
    ],
)
def test_match_subject(subject: str | None, expected: str | None) -> None:
    assert match_subject(subject) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" #inv-2025-000123. ", "INV-2025-000123"),
        ("INV - 2025 - 000123", "INV-2025-000123"),
        ("abc/12;", "ABC/12"),
        ("inv-2025-000123-", "INV-2025-000123"),
        ("INV-20-1", "INV-20-1"),
    ],
)
def test_normalize_invoice_number(raw: str, expected: str) -> None:
    assert normalize_invoice_number(raw) == expected
    assert normalize_invoice_number(expected) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.com>", "abc@example.com"),
        ("  < abc@ example.com >\r\n", "abc@example.com"),
        ("<a@b> (comment) <c@d>", "a@b"),
        ("abc@example.com", "abc@example.com"),
        ("<>", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_message_id(value: str | None, expected: str | None) -> None:
    assert normalize_message_id(value) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I was overcharged this month", "billing_error"),
        ("You charged me twice for March", "billing_error"),
        ("Double charge on my card", "billing_error"),
        ("This is the wrong invoice, incorrect amount", "billing_error"),
        ("The service was down all weekend", "service_unavailability"),
        ("Outage and downtime again, SLA breached", "service_unavailability"),
        ("The API is unavailable and not working", "service_unavailability"),
        ("We cannot connect since Monday", "service_unavailability"),
        ("I'd like to use the money-back guarantee", "money_back_guarantee"),
        ("Cancelling within the 7-day window", "money_back_guarantee"),
        ("I just signed up and changed my mind, first purchase", "money_back_guarantee"),
        ("Please refund", "other"),
        ("", "other"),
        # Ties go to the earlier reason: billing before availability before guarantee.
        ("charged twice during the outage", "billing_error"),
        # More matches win.
        ("charged twice; the outage, downtime and SLA breach", "service_unavailability"),
    ],
)
def test_propose_reason(text: str, reason: str) -> None:
    assert propose_reason(text) == reason


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("Please process a refund of $49.00", "49.00", "USD"),
        ("refund USD 1,200.50 to my card", "1200.50", "USD"),
        ("I paid ₹ 4,999 and want it back", "4999", "INR"),
        ("INR 500 was deducted", "500", "INR"),
        ("Rs. 1,00,000 refund", "100000", "INR"),
        ("Erstattung von €12,50 bitte", "12.50", "EUR"),
        ("bitte 1.234,56 € erstatten", "1234.56", "EUR"),
        ("refund 12,50 EUR", "12.50", "EUR"),
        ("£7.99 per month", "7.99", "GBP"),
        ("US$ 15", "15", "USD"),
        ("The plan is $99 but refund me $49.50 please", "49.50", "USD"),  # refund wording wins
        ("I was charged $20 and $30", None, None),  # ambiguous: no guess
        ("please try 550 times", None, None),  # currency codes are upper-case only
        ("no amount here", None, None),
        ("$0.00", None, None),
    ],
)
def test_extract_requested_amount(text: str, amount: str | None, currency: str | None) -> None:
    value, code = extract_requested_amount(text)
    assert value == (Decimal(amount) if amount else None)
    assert code == currency
    if value is not None:
        assert isinstance(value, Decimal)
        assert str(value) == amount  # exact digits, no float round trip


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (b"\r\n\r\n%PDF-1.7 late header", "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"BZh91AY&SY", "application/x-bzip2"),
        (EXE, "application/x-msdownload"),
        (b"\x7fELF\x02", "application/x-executable"),
        (b"#!/usr/bin/env python\n", "text/x-shellscript"),
        (b"Just some notes\nline two\n", "text/plain"),
        ("Привет, мир".encode("koi8-r") + b" and more words here", "text/plain"),
        (b"From: a@b.c\r\nTo: d@e.f\r\nSubject: x\r\n\r\nbody", "message/rfc822"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_sniff_content_type(data: bytes, expected: str) -> None:
    assert sniff_content_type(data) == expected


@pytest.mark.parametrize(
    ("name", "detected", "expected"),
    [
        ("invoice.pdf", "application/pdf", "invoice.pdf"),
        ("../../etc/passwd", "text/plain", "passwd"),
        ("..\\..\\windows\\win.ini", "text/plain", "win.ini"),
        ("/abs/path/report.pdf", "application/pdf", "report.pdf"),
        ("..", "application/pdf", "attachment-3.pdf"),
        ("", "image/png", "attachment-3.png"),
        (None, "application/octet-stream", "attachment-3.bin"),
        ("   ", "application/zip", "attachment-3.zip"),
        ("bad\x00name\r\n.pdf", "application/pdf", "badname.pdf"),
        ('what?<is>:"this"|*.pdf', "application/pdf", "what__is___this___.pdf"),
        ("e\u0301te\u0301.pdf", "application/pdf", "été.pdf"),  # NFC
        ("invoice\u202efdp.exe", "application/pdf", "invoicefdp.exe"),  # bidi override removed
        ("CON.txt", "text/plain", "_CON.txt"),
        (".hidden.pdf", "application/pdf", "hidden.pdf"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 146 + ".pdf"),
    ],
)
def test_sanitize_filename(name: str | None, detected: str, expected: str) -> None:
    result = sanitize_filename(name, 3, detected)
    assert result == expected
    assert len(result) <= parsing.MAX_FILENAME_CHARS


def test_header_decoding_helper_never_leaves_encoded_words() -> None:
    assert decode_header_text("=?utf-8?q?Caf=C3=A9?= =?iso-8859-1?q?cr=E8me?=") == "Cafécrème"
    assert decode_header_text("=?utf-8?q?a?= b =?utf-8?q?c?=") == "a b c"
    assert decode_header_text("=?bogus-charset?B?SGVsbG8=?=") == "Hello"
    assert decode_header_text("=?utf-8?B?###?=") == ""
    assert decode_header_text(None) == ""


def test_naive_dates_are_read_as_utc() -> None:
    parsed = parse_message(with_date("Mon, 3 Mar 2025 09:30:00"))
    assert parsed.date == datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(0)
    assert parsed.date.tzinfo in (UTC, UTC)
