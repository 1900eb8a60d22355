"""Email ingest at scale (issue 14): ``ingest_mail`` over a Maildir of realistic messages, and one
30 MB message's memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m .venv/bin/python bench/run.py --only ingest
    DATABASE_URL=... .venv/bin/python bench/ingest.py [--messages 10000] [--repeats 3] [--profile FILE]

``build_maildir`` writes N messages into a temporary Maildir, shaped like a billing mailbox: new
requests ("Refund Request: <invoice>") on invoices of the database that have no unsettled request,
from eight kinds of client (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, and Japanese, Russian
and Chinese clients in ISO-2022-JP, KOI8-R / Windows-1251 and GB2312, with RFC 2047 subjects,
quoted-printable, base64, 8-bit and HTML-only bodies); ~20% replies (half threaded by In-Reply-To
on a request's first message, half by a "Re:" subject only) on requests made earlier in the same
Maildir; ~10% carry a PDF (20-200 KB); ~1% are the same message delivered twice (a duplicate);
~2% are malformed or unplaceable (binary junk, no From, unknown invoice, no invoice number, an
auto-reply) and must become triage items.

Each run ingests the Maildir through ``intake.management.commands.ingest_mail.ingest_paths`` (the
command's own loop, one transaction per message), counts its statements, then deletes what it
wrote (rows with ids above the run's starting ids; the append-only triggers are switched off for
that inside the deleting transaction), so repeated runs on a shared bench database are fine.
Stored files (raw messages, documents) go to a temporary MEDIA_ROOT. Sending the acknowledgements
is not measured: the Celery publish (``send_customer_message.delay``) is replaced by a counter; the
acknowledgement rows and their on-commit hooks are real.

Floor, same run: what any ingest does before its own logic - read each file, parse it with the
stdlib ``email`` parser (``BytesParser(policy=default)``, every leaf part's content decoded) and
INSERT one row per message (hash, size, subject) in a transaction of its own. The 30 MB message
runs in a child process; its figure is the peak RSS growth over the child's RSS before it, its
floor the message's own size (a reader that holds the message once).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "januscaler_refunds.settings")

from bench.common import Figure, load_average  # noqa: E402

MESSAGES = 10_000
BIG_MESSAGE_BYTES = 30 * 1024 * 1024

# --- the Maildir ---------------------------------------------------------------------------------


@dataclass
class Expected:
    """What ingesting the Maildir must give."""

    request: int = 0
    reply: int = 0
    triage: int = 0
    duplicate: int = 0
    pdfs: int = 0
    triage_reasons: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        return {"request": self.request, "reply": self.reply, "triage": self.triage, "duplicate": self.duplicate}


@dataclass
class BenchInvoice:
    number: str
    email: str
    currency: str


_REASON_TEXTS = [
    "Hello,\n\nI signed up last week but the product is not what our team needs. I would like to use\n"
    "the 7-day money-back guarantee and get a full refund of {amount}.\n\nThank you,\n{name}",
    "Hi billing team,\n\nYou charged me twice for the same month on invoice {invoice}. Please refund the\n"
    "duplicate charge of {amount} to my card.\n\nRegards,\n{name}",
    "Dear support,\n\nThe service was down for most of Tuesday and our API calls failed with timeouts.\n"
    "Under the SLA we expect a refund for the outage.\n\nBest,\n{name}",
    "Hello,\n\nWe are closing the project this account was for. Could you look at a refund of {amount}\n"
    "for the remaining period? Invoice {invoice} is attached for reference.\n\nThanks\n{name}",
]
_REPLY_TEXTS = [
    "Thanks for the quick answer. Here is the bank statement you asked for.",
    "Any news on this? It has been a few days.",
    "Please find the receipt attached. Let me know if you need anything else.",
    "I forgot to mention: the charge appeared twice on my card statement.",
]
_NAMES = ["Priya Sharma", "José Álvarez", "Jürgen Müller", "Chloé Dubois", "Ana Souza", "Olu Adeyemi",
          "Mei Chen", "Haruto Sato", "Zoë O'Brien", "Rahul Verma"]
_OUTLOOK_STYLE = (
    "<style><!--\n/* Font Definitions */\n@font-face {font-family:\"Cambria Math\"; panose-1:2 4 5 3 5 4 6 3 2 4;}\n"
    "@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}\n"
    "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif;}\n"
    "a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}\n"
    "span.EmailStyle17 {mso-style-type:personal-compose; font-family:\"Calibri\",sans-serif; color:windowtext;}\n"
    ".MsoChpDefault {mso-style-type:export-only; font-family:\"Calibri\",sans-serif;}\n"
    "@page WordSection1 {size:612.0pt 792.0pt; margin:72.0pt 72.0pt 72.0pt 72.0pt;}\n"
    "div.WordSection1 {page:WordSection1;}\n--></style>"
)
_CLIENTS = ["gmail", "gmail", "gmail", "outlook", "outlook", "iphone", "thunderbird", "yahoo",
            "japanese", "russian", "chinese"]
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "INR": "₹"}


def _qp(text: str, charset: str) -> bytes:
    import quopri

    return quopri.encodestring(text.replace("\n", "\r\n").encode(charset, "replace"))


def _word(text: str, charset: str) -> str:
    """One RFC 2047 B-encoded word (however long: mail clients do that too)."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset, 'replace')).decode()}?="


def make_pdf(rng: random.Random, size: int) -> bytes:
    """A PDF-shaped file of about ``size`` bytes: header, one compressed content stream, trailer."""
    stream = zlib.compress(rng.randbytes(size), 1)[:size]
    return (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
            b"3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n"
            b"4 0 obj\n<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n"
            + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def _headers(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in pairs)


def _body_part(client: str, body: str, rng: random.Random) -> tuple[list[tuple[str, str]], bytes]:
    """The client's own headers (besides From/Subject) and its body part, Content-Type included."""
    if client == "gmail":
        alt = f"000000000000{rng.getrandbits(40):x}"
        html = "<div dir=\"ltr\">" + "<br>".join(body.splitlines()) + "</div>"
        return [], (f"Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n--{alt}\r\n"
                    "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                    .encode() + _qp(body, "utf-8")
                    + f"\r\n--{alt}\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode()
                    + _qp(html, "utf-8") + f"\r\n--{alt}--\r\n".encode())
    if client == "outlook":
        alt = f"_000_{rng.getrandbits(64):x}namprd"
        html = (f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">{_OUTLOOK_STYLE}"
                "</head><body lang=\"EN-US\"><div class=\"WordSection1\">"
                + "".join(f"<p class=\"MsoNormal\">{line or '&nbsp;'}<o:p></o:p></p>" for line in body.splitlines())
                + "</div></body></html>")
        headers = [("Thread-Index", base64.b64encode(rng.randbytes(22)).decode()), ("Content-Language", "en-US"),
                   ("X-MS-Has-Attach", ""), ("X-MS-TNEF-Correlator", ""),
                   ("x-ms-exchange-organization-authas", "Anonymous")]
        return headers, (f"Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n--{alt}\r\n"
                         "Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode() + _qp(body, "cp1252")
                         + f"\r\n--{alt}\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode()
                         + _qp(html, "cp1252") + f"\r\n--{alt}--\r\n".encode())
    if client == "iphone":
        return [("X-Mailer", "iPhone Mail (21F90)")], (
            b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _qp(body + "\n\nSent from my iPhone", "utf-8"))
    if client == "thunderbird":
        return [("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.12.0"),
                ("Content-Language", "de-DE")], (
            b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replace("\n", "\r\n").encode())
    if client == "yahoo":
        html = ("<html><head></head><body><div class=\"ydp\" style=\"font-family:Helvetica Neue, Helvetica, Arial;"
                "font-size:13px;\">" + "".join(f"<div>{line}</div>" for line in body.splitlines()) + "</div></body></html>")
        return [("X-Mailer", "WebService/1.1.22405 YMailNorrin")], (
            b"Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + _qp(html, "utf-8"))
    if client == "japanese":
        text = "いつもお世話になっております。\n" + body
        return [("X-Mailer", "Becky! ver. 2.81.04")], (
            b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            + text.replace("\n", "\r\n").encode("iso-2022-jp", "replace"))
    if client == "russian":
        charset = rng.choice(["koi8-r", "windows-1251"])
        text = "Здравствуйте!\n" + body
        return [("X-Mailer", "The Bat! (v10.4.0.3) Professional")], (
            f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
            + base64.encodebytes(text.replace("\n", "\r\n").encode(charset, "replace")))
    text = "您好！\n" + body  # chinese
    return [("X-Mailer", "Foxmail 7.2.25.228[cn]")], (
        b"Content-Type: text/plain; charset=\"gb2312\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(text.replace("\n", "\r\n").encode("gb18030", "replace")))


_LOCAL = {  # client: (charset of From/Subject words, display name, subject words before the ASCII part)
    "japanese": ("iso-2022-jp", "佐藤 陽翔", "返金のお願い "),
    "russian": ("koi8-r", "Сергей Иванов", "Возврат: "),
    "chinese": ("gb2312", "陈梅", "退款申请 "),
}


def render(client: str, *, subject: str, sender: str, name: str, body: str, when: dt.datetime, message_id: str,
           in_reply_to: str | None, pdf: bytes | None, pdf_name: str, rng: random.Random) -> bytes:
    """One message as ``client`` writes it."""
    headers = [
        ("Return-Path", f"<{sender}>"),
        ("Received", f"from mail-{rng.randint(1, 99)}.example.net (mail.example.net [203.0.113.{rng.randint(1, 254)}]) "
                     f"by mx.januscaler.com with ESMTPS id {rng.getrandbits(40):x}; {format_datetime(when)}"),
        ("Date", format_datetime(when)),
        ("To", "Januscaler Billing <billing@januscaler.com>"),
        ("Message-ID", f"<{message_id}>"),
        ("MIME-Version", "1.0"),
    ]
    if in_reply_to:
        headers += [("In-Reply-To", f"<{in_reply_to}>"), ("References", f"<{in_reply_to}>")]
    if client in _LOCAL:
        charset, local_name, words = _LOCAL[client]
        headers += [("From", f"{_word(local_name, charset)} <{sender}>"), ("Subject", _word(words + subject, charset))]
    else:
        headers += [("From", f"\"{name}\" <{sender}>" if client == "outlook" else f"{name} <{sender}>"),
                    ("Subject", subject)]
    own, content = _body_part(client, body, rng)
    if pdf is not None:
        boundary = f"----=_Part_{rng.getrandbits(48):x}"
        content = (f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n".encode() + content
                   + f"\r\n--{boundary}\r\nContent-Type: application/pdf; name=\"{pdf_name}\"\r\n"
                     f"Content-Disposition: attachment; filename=\"{pdf_name}\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n".encode()
                   + base64.encodebytes(pdf) + f"\r\n--{boundary}--\r\n".encode())
    return _headers(headers + own) + content


def _unplaceable(rng: random.Random, index: int, when: dt.datetime, invoice: BenchInvoice) -> tuple[bytes, str]:
    """A message that cannot become a request, and the triage reason it must get."""
    kind = index % 5
    head = _headers([("Date", format_datetime(when)), ("Message-ID", f"<bad-{index}-{rng.getrandbits(32):x}@x.example>")])
    if kind == 0:  # a file that is not mail at all: no headers, so no sender to answer
        return b"\x00\x01PK\x03\x04" + rng.randbytes(2000), "no_sender"
    if kind == 1:  # headers and body, no From
        return head + _headers([("Subject", f"Refund Request: {invoice.number}")]) + b"\r\nplease refund\r\n", "no_sender"
    if kind == 2:  # an invoice nobody issued
        return (head + _headers([("From", f"<{invoice.email}>"), ("Subject", f"Refund Request: INV-X{index:09d}")])
                + b"\r\nRefund please.\r\n"), "unknown_invoice"
    if kind == 3:  # no invoice number, and a multipart whose closing boundary never comes
        return (head + _headers([("From", f"<{invoice.email}>"), ("Subject", "refund???"),
                                 ("Content-Type", "multipart/mixed; boundary=\"zzz\"")])
                + b"\r\n--zzz\r\nContent-Type: text/plain\r\n\r\ngive me my money back\r\n"), "no_invoice_number"
    return (head + _headers([("From", f"<{invoice.email}>"), ("Subject", f"Automatic reply: Refund Request: {invoice.number}"),
                             ("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")])
            + b"\r\nI am out of the office until Monday.\r\n"), "automated"


def sample_invoices(count: int) -> list[BenchInvoice]:
    """Up to ``count`` invoices spread over the table that have no unsettled request (so a new
    message on one is a new request, not a reply), with the customer's email and the currency."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM billing_invoice")
        low, high = cursor.fetchone()
        if low is None:
            raise RuntimeError("no invoices: seed the database first (bench/seed.py)")
        step = max(1, (high - low + 1) // max(count * 2, 1))
        cursor.execute(
            """SELECT i.number, c.email, i.currency FROM billing_invoice i JOIN billing_customer c ON c.id = i.customer_id
               WHERE (i.id - %s) %% %s = 0 AND NOT EXISTS (SELECT 1 FROM refunds_refundrequest r
                   WHERE r.invoice_id = i.id AND r.state IN ('submitted', 'under_review', 'info_requested', 'approved'))
               ORDER BY i.id LIMIT %s""",
            [low, step, count],
        )
        rows = [BenchInvoice(*row) for row in cursor.fetchall()]
    if not rows:
        raise RuntimeError("no invoice without an unsettled request")
    return rows


def build_maildir(root: Path, n: int, invoices: list[BenchInvoice], *, now: dt.datetime, seed: int = 14) -> Expected:
    """Write ``n`` messages into the Maildir ``root`` (``new/``, ``cur/``, ``tmp/``); return what must come out.

    Invoices are used in turn; when there are fewer than new requests, an invoice comes round again
    and its second request is a duplicate of the first (still a new request)."""
    rng = random.Random(seed)
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    expected = Expected()
    made: list[tuple[str, BenchInvoice, str]] = []  # (Message-ID, invoice, file name) of each new request
    replied: set[int] = set()
    first = now - dt.timedelta(hours=3)
    spent = 0
    for index in range(n):
        when = first + dt.timedelta(seconds=index * 10_000 // max(n, 1))
        file_name = f"{int(when.timestamp())}.M{index:06d}P{os.getpid()}.mx.januscaler.com:2,S"
        roll = rng.random()
        invoice = invoices[spent % len(invoices)]
        if roll < 0.02:
            raw, reason = _unplaceable(rng, index, when, invoice)
            expected.triage += 1
            expected.triage_reasons[reason] += 1
        elif roll < 0.03 and made:  # the same delivery twice: another Received hop, the same message
            raw = (root / "cur" / made[rng.randrange(len(made))][2]).read_bytes()
            raw = _headers([("Received", f"from relay.example.net by mx2.januscaler.com; {format_datetime(when)}")]) + raw
            expected.duplicate += 1
        elif roll < 0.23 and len(made) > len(replied) + 5:
            position = rng.randrange(max(0, len(made) - 500), len(made))
            while position in replied:
                position = (position + 1) % len(made)
            replied.add(position)  # one reply per request keeps the expected counts exact
            message_id, target, _ = made[position]
            pdf = make_pdf(rng, rng.randint(20_000, 200_000)) if rng.random() < 0.1 else None
            expected.pdfs += pdf is not None
            raw = render(rng.choice(_CLIENTS[:5]), subject=f"Re: Refund Request: {target.number}", sender=target.email,
                         name=rng.choice(_NAMES), body=rng.choice(_REPLY_TEXTS) + "\n\n> On Monday you wrote:\n"
                         "> We received your refund request.", when=when,
                         message_id=f"reply-{index}-{rng.getrandbits(32):x}@client.example",
                         in_reply_to=message_id if rng.random() < 0.5 else None, pdf=pdf, pdf_name="statement.pdf",
                         rng=rng)
            expected.reply += 1
        else:
            spent += 1
            # Mostly the invoice's currency; one in ten names another (the agent gets a note).
            currency = invoice.currency if rng.random() < 0.9 else rng.choice(list(_SYMBOLS))
            body = rng.choice(_REASON_TEXTS).format(amount=f"{_SYMBOLS.get(currency, '$')}{rng.randint(10, 400)}.00",
                                                    invoice=invoice.number, name=rng.choice(_NAMES))
            pdf = make_pdf(rng, rng.randint(20_000, 200_000)) if rng.random() < 0.1 else None
            expected.pdfs += pdf is not None
            message_id = f"req-{index}-{rng.getrandbits(32):x}@client.example"
            raw = render(rng.choice(_CLIENTS), subject=f"Refund Request: {invoice.number}", sender=invoice.email,
                         name=rng.choice(_NAMES), body=body, when=when, message_id=message_id, in_reply_to=None,
                         pdf=pdf, pdf_name=f"invoice-{invoice.number}.pdf", rng=rng)
            made.append((message_id, invoice, file_name))
            expected.request += 1
        (root / "cur" / file_name).write_bytes(raw)
    return expected


def make_big_message(path: Path, size: int = BIG_MESSAGE_BYTES) -> None:
    """One message of about ``size`` bytes: a short text part and a base64 PDF filling the rest."""
    rng = random.Random(30)
    raw = render("gmail", subject="Refund Request: INV-00000001", sender="big@example.com", name="Big Sender",
                 body="The full statement is attached.", when=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                 message_id=f"big-{os.urandom(6).hex()}@client.example", in_reply_to=None,
                 pdf=make_pdf(rng, int(size * 0.74)), pdf_name="statement.pdf", rng=rng)
    path.write_bytes(raw)


# --- measuring ---------------------------------------------------------------------------------

# Tables an ingest writes, children first (the order rows are deleted in).
WRITTEN_TABLES = [
    "intake_triageitem",
    "intake_inboundmessage",
    "refunds_refunddocument",
    "refunds_customermessage",
    "refunds_internalnote",
    "refunds_transitionlog",
    "refunds_refundrequest",
]


class StatementCounter:
    """``connection.execute_wrapper``: counts statements (savepoints apart) and the time spent in them."""

    def __init__(self) -> None:
        self.queries = 0
        self.savepoints = 0
        self.seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            self.savepoints += 1
        else:
            self.queries += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def watermarks() -> dict[str, int]:
    from django.db import connection

    marks = {}
    with connection.cursor() as cursor:
        for table in WRITTEN_TABLES:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - constant names
            marks[table] = cursor.fetchone()[0]
    return marks


def clean_up(marks: dict[str, int]) -> dict[str, int]:
    """Delete every row an ingest run wrote (ids above ``marks``); returns how many per table.

    The append-only triggers refuse deletes, by design; on PostgreSQL they are switched off inside
    this one transaction (DDL is transactional there) and on again before it commits."""
    from django.db import connection, transaction

    deleted = {}
    with transaction.atomic(), connection.cursor() as cursor:
        triggers = []
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events may block ALTER TABLE
            cursor.execute("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE '%%append_only' "
                           "AND tgrelid::regclass::text = ANY(%s)", [WRITTEN_TABLES])
            triggers = cursor.fetchall()
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        for table in WRITTEN_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE id > %s", [marks[table]])  # noqa: S608 - constant names
            deleted[table] = cursor.rowcount
        if triggers:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred FK checks, before re-enabling
        for table, trigger in triggers:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    return deleted


@dataclass
class RunResult:
    seconds: float
    cpu: float
    sql_seconds: float
    queries: int
    savepoints: int
    counts: dict[str, int]
    enqueued: int
    messages: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def ingest_once(maildir: Path, *, profile: str | None = None) -> RunResult:
    """Ingest ``maildir`` as ``ingest_mail`` does (its ``ingest_paths``), counting statements and enqueues."""
    from unittest import mock

    from django.db import connection

    from januscaler_refunds.intake.management.commands.ingest_mail import ingest_paths
    from januscaler_refunds.refunds import tasks

    enqueued: list[int] = []
    counter = StatementCounter()
    messages = sum(1 for sub in ("new", "cur") for _ in (maildir / sub).iterdir())
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: the machine is shared, waits vary
    with connection.execute_wrapper(counter), mock.patch.object(
        tasks.send_customer_message, "delay", side_effect=enqueued.append
    ):
        cpu = time.process_time()
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        counts = ingest_paths([str(maildir)], stderr=sys.stderr)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    if profiler and profile:
        profiler.dump_stats(profile)
    return RunResult(seconds, cpu, counter.seconds, counter.queries, counter.savepoints, dict(counts),
                     len(enqueued), messages)


def floor_once(maildir: Path) -> float:
    """Messages/s of the least any ingest does: read each file, parse it with the stdlib parser
    (every leaf part's content decoded), INSERT one row per message in a transaction of its own."""
    from django.db import connection, transaction

    parser = BytesParser(policy=email_policy.default)
    files = sorted(path for sub in ("new", "cur") for path in (maildir / sub).iterdir())
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_ingest_floor "
                       "(id bigserial PRIMARY KEY, sha256 char(64), size int, subject text)")
        cursor.execute("TRUNCATE bench_ingest_floor")
    started = time.perf_counter()
    for path in files:
        raw = path.read_bytes()
        message = parser.parsebytes(raw)
        for part in message.walk():
            if not part.is_multipart():
                try:
                    part.get_content()
                except Exception:  # noqa: BLE001,S112 - malformed parts are part of the mix
                    continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_ingest_floor (sha256, size, subject) VALUES (%s, %s, %s)",
                           [hashlib.sha256(raw).hexdigest(), len(raw), str(message.get("subject", ""))[:200]])
    return len(files) / (time.perf_counter() - started)


def big_message_child(path: str) -> None:
    """In a child process: ingest one big message; print the RSS growth (peak minus before) as JSON."""
    import django

    django.setup()
    from django.test.utils import override_settings

    from januscaler_refunds.intake.management.commands.ingest_mail import ingest_paths

    media = tempfile.mkdtemp(prefix="bench-ingest-media-")
    marks = watermarks()
    try:
        with override_settings(MEDIA_ROOT=media):
            small = Path(media) / "warm.eml"
            small.write_bytes(b"From: warm@example.com\r\nSubject: warm-up\r\n\r\nhello " + os.urandom(8).hex().encode())
            ingest_paths([str(small)])  # imports, the connection, first queries: not the message's cost
            _reset_peak()
            before = _rss_mb()
            started = time.perf_counter()
            counts = ingest_paths([path])
            seconds = time.perf_counter() - started
            peak = _peak_mb()
    finally:
        clean_up(marks)
        shutil.rmtree(media, ignore_errors=True)
    print(json.dumps({"growth_mb": peak - before, "before_mb": before, "peak_mb": peak, "seconds": seconds,
                      "counts": dict(counts)}))


def _reset_peak() -> None:
    """Reset this process's peak RSS (Linux: ``5`` into ``clear_refs``). ``ru_maxrss`` cannot serve:
    it keeps the peak of the forked parent's image from before ``exec``."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    """The peak RSS of this process's memory image (``VmHWM``)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def big_message_once(path: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--big-child", str(path)], capture_output=True, text=True,
                         check=True, env=os.environ)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def figures(repeats: int, messages: int | None = None, profile: str | None = None) -> list[Figure]:
    from django.test.utils import override_settings
    from django.utils import timezone

    n = messages or int(os.environ.get("BENCH_INGEST_MESSAGES", MESSAGES))
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        expected = build_maildir(work / "Maildir", n, sample_invoices(n), now=timezone.now())
        rate = Figure(f"ingest_mail, Maildir of {n:,} messages", unit="/s", rate=True)
        results = []
        for attempt in range(repeats):
            rate.load.append(load_average())
            marks = watermarks()
            media = work / f"media-{attempt}"
            try:
                with override_settings(MEDIA_ROOT=str(media)):
                    result = ingest_once(work / "Maildir", profile=profile if attempt == 0 else None)
            finally:
                clean_up(marks)
                shutil.rmtree(media, ignore_errors=True)
            got = {key: result.counts.get(key, 0) for key in expected.counts()}
            if result.counts.get("errors") or got != expected.counts():
                raise RuntimeError(f"ingest gave {result.counts}, expected {expected.counts()}")
            rate.runs.append(result.rate)
            rate.queries.append(round(result.queries / n))
            results.append(result)
            rate.floor.append(floor_once(work / "Maildir"))
        last = results[-1]
        rate.note = (
            f"{statistics.median(r.queries / n for r in results):.1f} statements + "
            f"{statistics.median(r.savepoints / n for r in results):.1f} savepoint statements per message; "
            f"CPU {statistics.median(r.cpu / n for r in results) * 1000:.1f} ms/message, "
            f"in SQL calls {statistics.median(r.sql_seconds / n for r in results) * 1000:.1f} ms/message; "
            f"{last.counts.get('request', 0):,} requests, {last.counts.get('reply', 0):,} replies, "
            f"{last.counts.get('triage', 0):,} triage, {last.counts.get('duplicate', 0):,} duplicates, "
            f"{expected.pdfs:,} PDFs; floor: read + stdlib parse + one INSERT per message"
        )
        big = Figure("ingest_mail, one 30 MB message: RSS growth", unit="MB")
        big_path = work / "big.eml"
        make_big_message(big_path)
        for _ in range(repeats):
            big.load.append(load_average())
            data = big_message_once(big_path)
            big.runs.append(data["growth_mb"])
            big.floor.append(big_path.stat().st_size / 1024 / 1024)
        big.note = "peak RSS of a child minus its RSS before the message; floor: the message's own size (read once)"
        return [rate, big]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the first run to this file")
    parser.add_argument("--big-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big_child:
        big_message_child(args.big_child)
        return
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Run against a seeded PostgreSQL database (bench/seed.py).")
    for figure in figures(args.repeats, messages=args.messages, profile=args.profile):
        print(figure.row(), flush=True)


if __name__ == "__main__":
    main()
