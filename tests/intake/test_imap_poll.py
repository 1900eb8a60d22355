"""The IMAP poll against a real Dovecot on loopback (Debian's dovecot-imapd, started per test)."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core import mail as django_mail
from factories import invoice_with_plan, make_user

from januscaler_refunds.intake.imap_utf7 import encode_mailbox_name
from januscaler_refunds.intake.models import InboundMessage, MailboxHealth, TriageItem
from januscaler_refunds.intake.tasks import parse_imap_url, poll_imap_mailbox
from januscaler_refunds.refunds.models import RefundRequest
from januscaler_refunds.refunds.roles import MANAGER

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "billing", "s3cret"

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[str]:
    if DOVECOT is None:
        reason = "needs Dovecot: apt-get install dovecot-imapd"
        if CI:
            pytest.fail(f"{reason} (CI=true: required here, not skipped)", pytrace=False)
        pytest.skip(reason)
    port = _free_port()
    # Dovecot's login and mail processes never run as root: as root, use its own unprivileged users
    # and a folder they can reach (pytest's tmp_path is private to root).
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="dovecot-")) if as_root else tmp_path / "dovecot"
    (base / "run").mkdir(parents=True)
    (base / "mail").mkdir()
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    login_user = _existing_user("dovenull", "nobody") if as_root else pwd.getpwuid(os.getuid()).pw_name
    internal_user = _existing_user("dovecot", "nobody") if as_root else login_user
    mail_uid, mail_gid = (pwd.getpwnam(internal_user).pw_uid, pwd.getpwnam(internal_user).pw_gid)
    if as_root:
        base.chmod(0o755)
        os.chown(base / "mail", mail_uid, mail_gid)
    conf = base / "dovecot.conf"
    conf.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/run
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{base}/mail/%u/Maildir
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {min(mail_uid, 1)}
first_valid_gid = {min(mail_gid, 1)}
log_path = {base}/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={base}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
    )
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                log = (base / "dovecot.log").read_text() if (base / "dovecot.log").exists() else ""
                pytest.fail(f"dovecot exited: {process.stdout.read().decode() if process.stdout else ''} {log}")
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("dovecot did not start listening")
    try:
        yield f"imap://{USER}:{PASSWORD}@127.0.0.1:{port}/INBOX"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if as_root:
            shutil.rmtree(base, ignore_errors=True)


def _existing_user(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise LookupError(f"none of the users {names} exists")


def _append(url: str, raws: list[bytes], folder: str = "INBOX") -> None:
    target = parse_imap_url(url)
    client = imaplib.IMAP4(target.host, target.port)
    client.login(target.user, target.password)
    for raw in raws:
        status, _ = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw.replace(b"\n", b"\r\n"))
        assert status == "OK"
    client.logout()


def _unseen(url: str) -> int:
    target = parse_imap_url(url)
    client = imaplib.IMAP4(target.host, target.port)
    client.login(target.user, target.password)
    client.select("INBOX")
    _, data = client.search(None, "UNSEEN")
    client.logout()
    return len(data[0].split())


def _mail(subject: str, sender: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, "billing@januscaler.com", subject, message_id
    msg["Date"] = "Wed, 06 May 2026 10:00:00 +0530"
    msg.set_content("Please refund me under the 7-day money-back guarantee.")
    return msg.as_bytes()


def test_poll_ingests_unseen_mail_once_and_marks_it_seen(dovecot: str, settings) -> None:  # type: ignore[no-untyped-def]
    first, second = invoice_with_plan(Decimal("100.00")), invoice_with_plan(Decimal("50.00"))
    _append(
        dovecot,
        [
            _mail(f"Refund Request: {first.number}", first.customer.email, "<imap-1@client.example>"),
            _mail(f"Refund Request: {second.number}", second.customer.email, "<imap-2@client.example>"),
            _mail("Lunch?", "friend@example.org", "<imap-3@client.example>"),
        ],
    )
    settings.IMAP_URL = dovecot
    counts = poll_imap_mailbox()
    assert counts == {"request": 2, "triage": 1}
    assert set(RefundRequest.objects.values_list("invoice__number", flat=True)) == {first.number, second.number}
    assert TriageItem.objects.count() == 1
    assert _unseen(dovecot) == 0

    assert poll_imap_mailbox() == {}
    assert (InboundMessage.objects.count(), RefundRequest.objects.count()) == (3, 2)


def test_a_message_seen_again_after_a_crash_before_flagging_is_a_duplicate(dovecot: str, settings) -> None:  # type: ignore[no-untyped-def]
    invoice = invoice_with_plan()
    raw = _mail(f"Refund Request: {invoice.number}", invoice.customer.email, "<imap-again@client.example>")
    _append(dovecot, [raw])
    settings.IMAP_URL = dovecot
    assert poll_imap_mailbox() == {"request": 1}
    # The same mail delivered again (e.g. the flag was lost): the unique keys make it a no-op.
    _append(dovecot, [raw])
    assert poll_imap_mailbox() == {"duplicate": 1}
    assert RefundRequest.objects.count() == 1


def test_imap_urls_are_parsed_strictly() -> None:
    target = parse_imap_url("imaps://user%40corp:p%3Ass@mail.example.com/Refunds")
    assert (target.host, target.port, target.user, target.password, target.mailbox, target.ssl) == (
        "mail.example.com", 993, "user@corp", "p:ss", "Refunds", True,
    )
    assert parse_imap_url("imap://u:p@h").port == 143
    with pytest.raises(ValueError):
        parse_imap_url("pop3://u:p@h")


# --- folders by their real names, failures that must not be silent ---------------------------------


def _create_folder(url: str, path: list[str]) -> str:
    """Create ``path`` (a folder hierarchy) the way a mail client would; returns its encoded name."""
    target = parse_imap_url(url)
    client = imaplib.IMAP4(target.host, target.port)
    client.login(target.user, target.password)
    _, listing = client.list('""', '""')
    delimiter = listing[0].split(b'"')[1].decode()  # (\\Noselect) "." ""
    encoded = '"' + encode_mailbox_name(delimiter.join(path)) + '"'
    status, detail = client.create(encoded)
    assert status == "OK", detail
    client.logout()
    return encoded


def test_a_folder_with_a_non_ascii_name_is_polled_by_its_real_name(dovecot: str, settings) -> None:  # type: ignore[no-untyped-def]
    encoded = _create_folder(dovecot, ["Rückerstattungen", "返金"])
    assert encoded == '"R&APw-ckerstattungen.&j9SR0Q-"'  # Dovecot's Maildir delimiter is "."
    invoice = invoice_with_plan()
    _append(dovecot, [_mail(f"Refund Request: {invoice.number}", invoice.customer.email, "<utf7@x>")], encoded)
    _append(dovecot, [_mail("Lunch?", "friend@example.org", "<inbox-only@x>")])
    settings.IMAP_URL = dovecot.replace("/INBOX", "/R%C3%BCckerstattungen/%E8%BF%94%E9%87%91")
    assert poll_imap_mailbox() == {"request": 1}  # the INBOX message was not read
    assert RefundRequest.objects.get().invoice == invoice
    location = InboundMessage.objects.get().location
    assert location.startswith("imap://127.0.0.1/Rückerstattungen/返金;UID=")
    assert MailboxHealth.objects.get().problem == ""


def test_a_missing_mailbox_alerts_the_managers_once_and_backs_off(  # type: ignore[no-untyped-def]
    dovecot: str, settings, django_capture_on_commit_callbacks
) -> None:
    boss = make_user("boss", MANAGER, email="boss@januscaler.example")
    settings.IMAP_URL = dovecot.replace("/INBOX", "/Gone")
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_imap_mailbox() == {"failed": 1}
    health = MailboxHealth.objects.get()
    assert health.problem == MailboxHealth.Problem.MISSING_MAILBOX
    assert health.consecutive_failures == 1 and health.alerted_at is not None
    assert health.next_attempt_at is not None and health.next_attempt_at > health.failing_since
    [alert] = django_mail.outbox
    assert alert.to == [boss.email]
    assert "Mailbox not found" in alert.subject and "Gone" in alert.body
    assert PASSWORD not in alert.body + alert.subject

    # The next beat tick inside the back-off does not touch the server and does not alert again.
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_imap_mailbox() == {}
    assert MailboxHealth.objects.get().consecutive_failures == 1
    assert len(django_mail.outbox) == 1


def test_a_changed_password_alerts_the_managers_and_recovery_clears_it(  # type: ignore[no-untyped-def]
    dovecot: str, settings, django_capture_on_commit_callbacks
) -> None:
    boss = make_user("boss", MANAGER, email="boss@januscaler.example")
    settings.IMAP_URL = dovecot.replace(f":{PASSWORD}@", ":old-password@")
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_imap_mailbox() == {"failed": 1}
    health = MailboxHealth.objects.get()
    assert health.problem == MailboxHealth.Problem.LOGIN_REFUSED
    [alert] = django_mail.outbox
    assert alert.to == [boss.email] and "Login refused" in alert.subject
    assert "old-password" not in alert.body + alert.subject

    # The password is fixed and the back-off has passed: the poll works and the row is healthy.
    settings.IMAP_URL = dovecot
    MailboxHealth.objects.update(next_attempt_at=None)
    assert poll_imap_mailbox() == {}
    health.refresh_from_db()
    assert (health.problem, health.consecutive_failures, health.alerted_at) == ("", 0, None)
    assert health.last_success_at is not None
