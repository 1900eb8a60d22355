"""Properties: whatever bytes arrive, parsing returns a storable result and safe attachments."""

from __future__ import annotations

import base64
import hashlib
import quopri
import sys
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest -p no:django` does not put the project on sys.path
    sys.path.insert(0, str(REPO))

from januscaler_refunds.intake.parsing import (  # noqa: E402
    MAX_FILENAME_CHARS,
    ParsedMessage,
    decode_header_text,
    extract_requested_amount,
    match_subject,
    normalize_invoice_number,
    parse_message,
    sanitize_filename,
    sniff_content_type,
)

CORPUS = REPO / "tests" / "corpus" / "mail"  # shipped with the project; see its README
SMALL_CORPUS = (
    sorted(p for p in CORPUS.rglob("*.eml") if p.stat().st_size < 64 * 1024)
    if CORPUS.is_dir()
    else []
)

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def _media_root() -> None:
    """Overrides the suite's settings-based fixture: parsing needs no Django (runs with -p no:django)."""


@pytest.fixture(autouse=True, scope="session")
def _celery_eager() -> None:
    """Overrides the suite's Celery fixture for the same reason."""


def assert_sound(parsed: ParsedMessage, raw: bytes) -> None:
    assert parsed.error is None, parsed.error
    assert parsed.content_hash == hashlib.sha256(raw).hexdigest()
    assert parsed.size == len(raw)
    texts = [parsed.subject, parsed.body_text, parsed.from_name or "", *parsed.defects]
    texts += [parsed.from_address or "", parsed.message_id or "", *parsed.references]
    for text in texts:
        text.encode("utf-8")  # no lone surrogates
        assert "\x00" not in text
    for attachment in parsed.attachments:
        assert len(attachment.sha256) == 64
        int(attachment.sha256, 16)
        assert_safe_filename(attachment.filename)
        if attachment.rejected:
            assert attachment.content == b""
        else:
            assert attachment.sha256 == hashlib.sha256(attachment.content).hexdigest()
            assert attachment.size == len(attachment.content)
    assert len({a.sha256 for a in parsed.attachments}) == len(parsed.attachments)
    if parsed.requested_amount is not None:
        assert isinstance(parsed.requested_amount, Decimal)
    assert parsed.proposed_reason in {
        "billing_error",
        "service_unavailability",
        "money_back_guarantee",
        "other",
    }


def assert_safe_filename(name: str) -> None:
    assert 0 < len(name) <= MAX_FILENAME_CHARS
    assert "/" not in name and "\\" not in name
    assert name not in (".", "..")
    assert not name.startswith((".", " ")) and not name.endswith((".", " "))
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs") for ch in name)
    assert unicodedata.normalize("NFC", name) == name


# --- Random bytes -----------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(raw: bytes) -> None:
    assert_sound(parse_message(raw), raw)


@FAST
@given(
    st.lists(
        st.sampled_from([b"\r\n", b"\n", b": ", b"--", b"=?", b"?=", b"Content-Type"]), max_size=40
    )
    .map(b"".join)
    .flatmap(lambda seed: st.binary(max_size=512).map(lambda tail: seed + tail))
)
def test_header_shaped_noise_never_crashes(raw: bytes) -> None:
    assert_sound(parse_message(raw), raw)


@pytest.mark.skipif(not SMALL_CORPUS, reason=f"shared mail corpus not found at {CORPUS}")
@FAST
@given(
    path=st.sampled_from(SMALL_CORPUS),
    cut=st.floats(min_value=0, max_value=1),
    at=st.floats(min_value=0, max_value=1),
    noise=st.binary(max_size=64),
    drop=st.integers(min_value=0, max_value=200),
)
def test_damaged_real_messages_never_crash(
    path: Path, cut: float, at: float, noise: bytes, drop: int
) -> None:
    raw = path.read_bytes()
    raw = raw[: int(len(raw) * max(cut, 0.05))]  # truncated in transit
    position = int(len(raw) * at)
    raw = raw[:position] + noise + raw[position + drop :]  # a damaged stretch
    assert_sound(parse_message(raw), raw)


# --- Random MIME trees ------------------------------------------------------------------------------

CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "koi8-r",
    "shift_jis",
    "gb2312",
    "windows-1251",
    "utf-16",
    "us-ascii",
    "x-unknown",
    "rot13",
    "",
]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
LEAF_TYPES = [
    "text/plain",
    "text/html",
    "application/pdf",
    "image/png",
    "application/octet-stream",
    "application/zip",
    "message/rfc822",
    "message/delivery-status",
    "text/x-weird",
    "garbage",
    "",
]
PAYLOAD_SEEDS = [
    b"",
    b"%PDF-1.4\n",
    b"\x89PNG\r\n\x1a\n",
    b"MZ\x90\x00",
    b"PK\x03\x04",
    b"<html><body><p>Hi &amp; bye</p><script>x</script>",
    b"From: a@b.c\r\nSubject: inner\r\n\r\nbody\r\n",
    "Refund of €12,50 please — INV-2025-000123".encode(),
]
FILENAMES = st.one_of(
    st.none(),
    st.sampled_from(["../../etc/passwd", "C:\\x\\y.pdf", "a.exe", "..", "CON", "file\x00.pdf"]),
    st.text(max_size=60),
)
TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?", min_size=1, max_size=30
)


@dataclass
class Leaf:
    content_type: str
    charset: str
    encoding: str
    filename: str | None
    encoded_name: bool
    disposition: str | None
    payload: bytes


@dataclass
class Multipart:
    subtype: str
    boundary: str
    parts: list[Leaf | Multipart]
    closed: bool
    preamble: bytes


def _encode_word(text: str, charset: str) -> str:
    try:
        data = text.encode(charset or "utf-8")
    except (LookupError, UnicodeError):
        charset, data = "utf-8", text.encode("utf-8", "surrogatepass")
    return f"=?{charset or 'utf-8'}?B?{base64.b64encode(data).decode()}?="


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape").replace(b"\r", b" ").replace(b"\n", b" ")


def render(node: Leaf | Multipart) -> bytes:
    if isinstance(node, Multipart):
        lines = [
            b"Content-Type: multipart/%s; boundary=%s"
            % (
                node.subtype.encode(),
                _quote(node.boundary).encode(),
            )
        ]
        body = node.preamble + b"\r\n"
        for part in node.parts:
            body += b"--" + node.boundary.encode() + b"\r\n" + render(part) + b"\r\n"
        if node.closed:
            body += b"--" + node.boundary.encode() + b"--\r\n"
        return b"\r\n".join(lines) + b"\r\n\r\n" + body
    params = ""
    if node.charset:
        params += f"; charset={node.charset}"
    name = node.filename
    if name is not None:
        shown = _encode_word(name, node.charset) if node.encoded_name else name
        params += f"; name={_quote(shown)}"
    headers = [f"Content-Type: {node.content_type}{params}"]
    if node.encoding:
        headers.append(f"Content-Transfer-Encoding: {node.encoding}")
    if node.disposition:
        headers.append(f"Content-Disposition: {node.disposition}")
    payload = node.payload
    if node.encoding == "base64":
        payload = base64.encodebytes(payload)
    elif node.encoding == "quoted-printable":
        payload = quopri.encodestring(payload)
    return b"\r\n".join(_header_bytes(h) for h in headers) + b"\r\n\r\n" + payload


leaves = st.builds(
    Leaf,
    content_type=st.sampled_from(LEAF_TYPES),
    charset=st.sampled_from(CHARSETS),
    encoding=st.sampled_from(ENCODINGS),
    filename=FILENAMES,
    encoded_name=st.booleans(),
    disposition=st.sampled_from(
        [None, "attachment", "inline", "attachment; filename*=utf-8''%FF%2e"]
    ),
    payload=st.tuples(st.sampled_from(PAYLOAD_SEEDS), st.binary(max_size=200)).map(
        lambda pair: pair[0] + pair[1]
    ),
)
trees = st.recursive(
    leaves,
    lambda children: st.builds(
        Multipart,
        subtype=st.sampled_from(["mixed", "alternative", "related", "report", "signed", "x"]),
        boundary=TOKEN,
        parts=st.lists(children, max_size=4),
        closed=st.booleans(),
        preamble=st.sampled_from([b"", b"This is a multi-part message in MIME format.", b"--"]),
    ),
    max_leaves=12,
)


def count_leaves(node: Leaf | Multipart) -> int:
    if isinstance(node, Leaf):
        return 1
    return sum(count_leaves(part) for part in node.parts)


@FAST
@given(
    tree=trees,
    subject=st.text(max_size=80),
    subject_charset=st.sampled_from(CHARSETS),
    sender=st.one_of(st.emails(), st.text(max_size=40)),
    junk_header=st.binary(max_size=40),
)
def test_random_mime_trees_never_crash_and_attachments_are_safe(
    tree: Leaf | Multipart,
    subject: str,
    subject_charset: str,
    sender: str,
    junk_header: bytes,
) -> None:
    head = [
        b"From: " + _header_bytes(sender),
        b"To: billing@januscaler.com",
        b"Subject: " + _encode_word(subject, subject_charset).encode(),
        b"Date: Mon, 3 Mar 2025 09:30:00 +0000",
        b"X-Junk: " + junk_header.replace(b"\r", b"").replace(b"\n", b""),
        b"MIME-Version: 1.0",
    ]
    raw = b"\r\n".join(head) + b"\r\n" + render(tree)
    parsed = parse_message(raw)
    assert_sound(parsed, raw)
    assert len(parsed.attachments) <= count_leaves(tree)
    assert "=?" not in parsed.subject or "=?" in subject


# --- Pure helpers -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_match_subject_returns_a_normalised_number_or_none(subject: str) -> None:
    number = match_subject(subject)
    if number is not None:
        assert any(ch.isdigit() for ch in number)
        assert normalize_invoice_number(number) == number
        assert number == number.upper()


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda s: any(ch.isdigit() for ch in s)))
def test_subjects_in_the_policy_format_always_match(number: str) -> None:
    token = "".join(ch for ch in number if ch.isascii() and ch.isalnum()) or "0"
    if not any(ch.isdigit() for ch in token):
        token += "7"
    subject = f"Re: [External] Refund Request: {token}"
    assert match_subject(subject) == normalize_invoice_number(token)


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.none(), st.text(max_size=400)), index=st.integers(1, 10_000))
def test_sanitize_filename_is_safe_and_idempotent(name: str | None, index: int) -> None:
    result = sanitize_filename(name, index, "application/pdf")
    assert_safe_filename(result)
    assert sanitize_filename(result, index, "application/pdf") == result


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_header_decoding_is_always_storable(value: str) -> None:
    decoded = decode_header_text(value)
    decoded.encode("utf-8")
    assert "\x00" not in decoded and "\n" not in decoded


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_amounts_are_positive_decimals_with_an_iso_code(text: str) -> None:
    amount, currency = extract_requested_amount(text)
    assert (amount is None) == (currency is None)
    if amount is not None:
        assert isinstance(amount, Decimal) and amount > 0
        assert currency is not None and len(currency) == 3 and currency.isupper()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_sniffing_never_raises(data: bytes) -> None:
    assert "/" in sniff_content_type(data)
