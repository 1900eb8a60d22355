"""Celery tasks of the intake app: poll the billing mailbox over IMAP.

Folders are named by their real names in ``IMAP_URL`` (``/Rückerstattungen/Eingang``, ``/返金``):
the path is URL-decoded, ``/`` becomes the server's hierarchy delimiter, and the name is sent in
modified UTF-7 (``intake.imap_utf7``). Failures are recorded and backed off in
``intake.mailbox_health``; a missing mailbox or a refused login alerts the managers.
"""

from __future__ import annotations

import imaplib
import logging
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from januscaler_refunds.intake.imap_utf7 import encode_mailbox_name
from januscaler_refunds.intake.mailbox_health import (
    mailbox_may_poll,
    mailbox_record_failure,
    mailbox_record_success,
)
from januscaler_refunds.intake.models import InboundMessage, MailboxHealth
from januscaler_refunds.intake.run import IngestRun
from januscaler_refunds.intake.services import ingest_raw_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    user: str
    password: str
    mailbox: str
    ssl: bool

    @property
    def label(self) -> str:
        """How the mailbox is named in alerts and health rows (never with the password)."""
        return f"{self.user}@{self.host}/{self.mailbox}"


class MailboxProblem(Exception):
    """A poll that could not read the mailbox; ``problem`` is a ``MailboxHealth.Problem`` value."""

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


def parse_imap_url(url: str) -> ImapTarget:
    """``imaps://user:pass@host:993/INBOX`` (``imap://`` without TLS; user and password URL-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("IMAP_URL must look like imaps://user:password@host:993/INBOX")
    ssl = parts.scheme == "imaps"
    return ImapTarget(
        host=parts.hostname,
        port=parts.port or (993 if ssl else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        ssl=ssl,
    )


def _connect(target: ImapTarget) -> imaplib.IMAP4:
    timeout = settings.IMAP_TIMEOUT_SECONDS
    client: imaplib.IMAP4
    try:
        if target.ssl:
            client = imaplib.IMAP4_SSL(target.host, target.port, timeout=timeout)
        else:
            client = imaplib.IMAP4(target.host, target.port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxProblem(MailboxHealth.Problem.UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
    try:
        client.login(target.user, target.password)
    except imaplib.IMAP4.abort as exc:
        raise MailboxProblem(MailboxHealth.Problem.UNREACHABLE, f"login: {exc}") from exc
    except imaplib.IMAP4.error as exc:
        raise MailboxProblem(MailboxHealth.Problem.LOGIN_REFUSED, _text(exc)) from exc
    return client


_LIST_DELIMITER = re.compile(rb'^\([^)]*\)\s+(?:"((?:\\.|[^"\\])*)"|NIL)', re.IGNORECASE)


def server_mailbox_name(client: imaplib.IMAP4, mailbox: str) -> str:
    """The mailbox's name as the server wants it: its hierarchy delimiter, modified UTF-7, quoted."""
    name = mailbox
    if "/" in mailbox and mailbox.upper() != "INBOX":
        status, data = client.list('""', '""')  # RFC 3501 6.3.8: answers with the delimiter
        first = data[0] if status == "OK" and data and isinstance(data[0], bytes) else b""
        match = _LIST_DELIMITER.match(first)
        delimiter = match.group(1).decode("ascii", "replace") if match and match.group(1) else "/"
        name = mailbox.replace("/", delimiter)
    return _quote(encode_mailbox_name(name))


def poll_mailbox(url: str) -> Counter[str]:
    """Ingest every unseen message, then flag it \\Seen. Safe to run twice or concurrently.

    A message is flagged only after its ingest committed, so a crash in between leaves it unseen and
    the next poll ingests it again, which the intake's unique keys turn into a no-op. Raises
    MailboxProblem when the server, the login or the mailbox fails.
    """
    target = parse_imap_url(url)
    counts: Counter[str] = Counter()
    client = _connect(target)
    try:
        try:
            status, data = client.select(server_mailbox_name(client, target.mailbox))
        except imaplib.IMAP4.abort as exc:
            raise MailboxProblem(MailboxHealth.Problem.UNREACHABLE, f"select: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            raise MailboxProblem(MailboxHealth.Problem.MISSING_MAILBOX, _text(exc)) from exc
        if status != "OK":
            raise MailboxProblem(
                MailboxHealth.Problem.MISSING_MAILBOX,
                f"cannot select mailbox {target.mailbox!r}: {_text(data)}",
            )
        status, data = client.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]
        uids = (data[0] or b"").split() if status == "OK" and data else []
        run = IngestRun()  # what the poll's messages share, read once
        for uid in uids:
            # imaplib encodes str arguments as ASCII, so the decoded UID goes out byte for byte.
            uid_text = uid.decode()
            status, fetched = client.uid("FETCH", uid_text, "(BODY.PEEK[])")
            raw = _fetched_bytes(fetched) if status == "OK" else None
            location = f"imap://{target.host}/{target.mailbox};UID={uid_text}"
            if raw is None:
                counts["errors"] += 1
                log.warning("could not fetch %s", location)
                continue
            result = ingest_raw_message(
                raw, location=location, now=timezone.now(), source=InboundMessage.Source.IMAP, run=run
            )
            counts[result.outcome] += 1
            client.uid("STORE", uid_text, "+FLAGS.SILENT", r"(\Seen)")
    except (OSError, imaplib.IMAP4.abort) as exc:  # the connection dropped mid-poll
        raise MailboxProblem(MailboxHealth.Problem.UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass
    return counts


def _text(value: object) -> str:
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else str(value)
    if isinstance(value, list):
        value = b" ".join(item for item in value if isinstance(item, bytes))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetched_bytes(fetched: list[object]) -> bytes | None:
    for item in fetched or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


@shared_task(acks_late=True, ignore_result=True)
def poll_imap_mailbox() -> dict[str, int]:
    """Beat runs this every IMAP_POLL_SECONDS; without IMAP_URL it does nothing.

    No Celery retry: a failure is recorded on the mailbox's health row, which sets the back-off the
    next beat tick respects, and alerts the managers when the mailbox or the login is gone.
    """
    if not settings.IMAP_URL:
        return {}
    target = parse_imap_url(settings.IMAP_URL)
    now = timezone.now()
    if not mailbox_may_poll(mailbox=target.label, now=now):
        log.info("IMAP poll of %s skipped: backing off after failures", target.label)
        return {}
    try:
        counts = poll_mailbox(settings.IMAP_URL)
    except (MailboxProblem, OSError) as exc:  # OSError: a timeout or reset outside the poll loop
        problem = getattr(exc, "problem", MailboxHealth.Problem.UNREACHABLE)
        mailbox_record_failure(
            mailbox=target.label, problem=problem, detail=str(exc), now=timezone.now()
        )
        return {"failed": 1}
    mailbox_record_success(mailbox=target.label, now=timezone.now())
    log.info("IMAP poll: %s", dict(counts))
    return dict(counts)


# An admin import of 100k rows takes well under a minute in bulk; row by row (SQLite, files that
# have no bulk path) it can take many minutes.
IMPORT_TIME_LIMIT = 60 * 60


@shared_task(name="intake.run_import_job", acks_late=True, time_limit=IMPORT_TIME_LIMIT,
             soft_time_limit=IMPORT_TIME_LIMIT - 60)
def run_import_job(job_id: int) -> None:
    """Run one queued admin import (``billing.ImportJob``); a second delivery finds it claimed."""
    from januscaler_refunds.intake.importing import import_job_run

    if import_job_run(job_id=job_id) is None:
        log.info("import job %s already claimed or finished", job_id)
