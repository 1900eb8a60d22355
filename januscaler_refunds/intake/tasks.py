"""Celery tasks of the intake app: poll the billing mailbox over IMAP."""

from __future__ import annotations

import imaplib
import logging
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from januscaler_refunds.intake.models import InboundMessage
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
    if target.ssl:
        client = imaplib.IMAP4_SSL(target.host, target.port, timeout=timeout)
    else:
        client = imaplib.IMAP4(target.host, target.port, timeout=timeout)
    client.login(target.user, target.password)
    return client


def poll_mailbox(url: str) -> Counter[str]:
    """Ingest every unseen message, then flag it \\Seen. Safe to run twice or concurrently.

    A message is flagged only after its ingest committed, so a crash in between leaves it unseen and
    the next poll ingests it again, which the intake's unique keys turn into a no-op.
    """
    target = parse_imap_url(url)
    counts: Counter[str] = Counter()
    client = _connect(target)
    try:
        status, _ = client.select(_quote(target.mailbox))
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot select mailbox {target.mailbox!r}")
        status, data = client.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]
        uids = (data[0] or b"").split() if status == "OK" and data else []
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
                raw, location=location, now=timezone.now(), source=InboundMessage.Source.IMAP
            )
            counts[result.outcome] += 1
            client.uid("STORE", uid_text, "+FLAGS.SILENT", r"(\Seen)")
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass
    return counts


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetched_bytes(fetched: list[object]) -> bytes | None:
    for item in fetched or []:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


@shared_task(
    acks_late=True, ignore_result=True, autoretry_for=(OSError,), retry_backoff=60, max_retries=3
)
def poll_imap_mailbox() -> dict[str, int]:
    """Beat runs this every IMAP_POLL_SECONDS; without IMAP_URL it does nothing."""
    if not settings.IMAP_URL:
        return {}
    counts = poll_mailbox(settings.IMAP_URL)
    log.info("IMAP poll: %s", dict(counts))
    return dict(counts)
