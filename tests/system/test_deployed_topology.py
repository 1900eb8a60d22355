"""One request's whole life through the deployed topology (issue 11): real processes, real mail.

gunicorn (the Procfile's web line), the Celery worker(s) and beat (Procfile lines) run against this
test's PostgreSQL database and Redis with queues of their own; customer mail goes over SMTP to a real
aiosmtpd server and the chargeback webhook to a local HTTP server. The request arrives by the inbound
mail webhook, the agent reviews and asks for information in Chromium, the customer answers by email,
the agent approves, finance pays, a manager exports a filtered XLSX above the async threshold and a
chargeback import suspends another customer. Every customer email and the webhook must arrive within
TIMEOUT seconds of the action that caused it, exactly once; latencies are printed (``-s``).

Nothing in this process enqueues: the test's own Celery app stays eager and unused. If
``januscaler_refunds/__init__.py`` did not load the Celery app, gunicorn and manage.py would send to
Celery's default broker and no email would arrive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import factories
import pytest
from django.utils import timezone
from system.topology import (
    TIMEOUT,
    Received,
    SmtpSink,
    Topology,
    WebhookSink,
    start_smtp,
    start_webhook_receiver,
    wait_for,
)

from januscaler_refunds.chargebacks.models import Chargeback
from januscaler_refunds.refunds.models import CustomerMessage, RefundRequest
from januscaler_refunds.reports.models import ExportRecord

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("celery"),
]

TEST_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
INBOUND_SECRET = "system-inbound-secret"
PASSWORD = "system-pw"
CUSTOMER = "ada@customer.example"


@pytest.fixture
def services_up(tmp_path: Path, transactional_db: Any) -> Iterator[tuple[Topology, SmtpSink, WebhookSink]]:
    smtp, controller = start_smtp()
    hooks, server = start_webhook_receiver()
    topo = Topology(
        tmp_path,
        TEST_REDIS,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        INBOUND_WEBHOOK_SECRET=INBOUND_SECRET,
        CHARGEBACK_WEBHOOK_URL=hooks.url,
        CHARGEBACK_WEBHOOK_SECRET="system-webhook-secret",
        EXPORT_ASYNC_THRESHOLD_ROWS="1",
        HEARTBEAT_SECONDS="3",
        LOG_LEVEL="INFO",
    )
    try:
        for name in ("web", "worker", "exports", "beat"):
            topo.start(name)
        topo.wait_ready("web", b"Booting worker")
        topo.wait_ready("worker")
        topo.wait_ready("exports")
        yield topo, smtp, hooks
    finally:
        topo.stop()
        controller.stop()
        server.shutdown()
        server.server_close()


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def send_inbound(topo: Topology, raw: bytes) -> dict[str, Any]:
    import json

    signature = "sha256=" + hmac.new(INBOUND_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    status, body = http("POST", f"{topo.base_url}/intake/inbound/", raw,
                        {"Content-Type": "message/rfc822", "X-Intake-Signature": signature})
    assert status == 202, body
    return dict(json.loads(body))


def mail_of(smtp: SmtpSink, reference: str, since: float, what: str) -> Received:
    """The one email for ``reference`` whose subject or body says ``what``, waited for; its latency printed."""

    def match(r: Received) -> bool:
        return r.at >= since and r.message["X-Januscaler-Refund"] == reference and kind_of(r) == what

    found: list[Received] = wait_for(f"the {what} email", lambda: smtp.matching(match))
    print(f"latency {what}: {found[0].at - since:.2f}s")
    return found[0]


def kind_of(r: Received) -> str:
    message = CustomerMessage.objects.filter(message_id=r.message_id.strip("<>")).first()
    return message.kind if message else ""


def act(page: Any, name: str, **fields: str) -> None:
    """Open a transition's form by its data-action, fill inputs by name, submit by data-submit."""
    page.click(f'summary[data-action="{name}"]')
    form = page.locator(f'form[data-form="{name}"]')
    for field_name, value in fields.items():
        target = form.locator(f'[name="{field_name}"]')
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    form.locator(f'button[data-submit="{name}"]').click()
    page.wait_for_load_state()


def login(browser: Any, topo: Topology, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=topo.base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def make_users() -> None:
    # The subprocesses check passwords with the production hasher (PBKDF2), which reads the iteration
    # count from the stored hash: a low count keeps the test's hashing cheap.
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    for make in (factories.agent, factories.finance, factories.manager):
        user = make()
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, "systemtestsalt", iterations=1000)
        user.save(update_fields=["password"])


def test_one_request_s_whole_life_through_web_worker_beat_smtp_and_webhook(
    services_up: tuple[Topology, SmtpSink, WebhookSink], browser: Any
) -> None:
    topo, smtp, hooks = services_up
    make_users()
    today = timezone.localdate()
    invoice = factories.invoice_with_plan(
        amount=Decimal("120.00"), issued_on=today - dt.timedelta(days=2),
        paid_at=timezone.now() - dt.timedelta(days=2), customer=factories.CustomerFactory(email=CUSTOMER),
    )
    for _ in range(2):  # the filtered export holds 3 rows, above the threshold of 1
        factories.make_request(invoice=factories.invoice_with_plan(issued_on=today - dt.timedelta(days=3)),
                               received_at=timezone.now() - dt.timedelta(days=1))
    smtp.received.clear()  # those two acknowledgements were sent by this process (eager, locmem)

    health: list[tuple[int, bytes]] = []

    def healthy() -> bool:
        health.append(http("GET", f"{topo.base_url}/health/"))
        return health[-1][0] == 200

    try:
        wait_for("GET /health/ to answer 200", healthy)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: last answer {health[-1:]}") from None

    # --- an emailed request arrives through the inbound webhook -----------------------------------
    sent = time.monotonic()
    result = send_inbound(topo, (
        f"From: Ada <{CUSTOMER}>\r\nTo: billing@januscaler.com\r\nSubject: Refund Request: {invoice.number}\r\n"
        f"Message-ID: {make_msgid(domain='customer.example')}\r\nDate: {format_datetime(timezone.now())}\r\n\r\n"
        "Please refund me under the money-back guarantee: the product is not for us.\r\n"
    ).encode())
    assert result["outcome"] == "request", result
    reference = result["request"]
    request = RefundRequest.objects.get(reference=reference)
    ack = mail_of(smtp, reference, sent, "acknowledgement")
    assert ack.to == [CUSTOMER]

    # --- the agent reviews and asks for information ------------------------------------------------
    agent = login(browser, topo, "agent")
    agent.goto(f"/admin/refunds/refundrequest/{request.pk}/change/")
    act(agent, "start_review")
    sent = time.monotonic()
    act(agent, "request_information", missing="The last four digits of the card you paid with")
    info = mail_of(smtp, reference, sent, "information_request")
    assert RefundRequest.objects.get(pk=request.pk).state == "info_requested"

    # --- the customer replies by email, threaded on the information request ------------------------
    result = send_inbound(topo, (
        f"From: Ada <{CUSTOMER}>\r\nTo: billing@januscaler.com\r\nSubject: Re: {info.message['Subject']}\r\n"
        f"Message-ID: {make_msgid(domain='customer.example')}\r\nIn-Reply-To: {info.message_id}\r\n"
        f"References: {info.message_id}\r\nDate: {format_datetime(timezone.now())}\r\n\r\nThe card ends in 4242.\r\n"
    ).encode())
    assert result["outcome"] == "reply" and result["request"] == reference, result
    request.refresh_from_db()
    assert request.state == "under_review"

    # --- the agent approves no more than was requested and is refundable -------------------------
    refundable = request.refundable_amount or Decimal("0.00")
    amount = min(request.requested_amount or refundable, refundable)
    assert amount > 0, f"the demo request should be refundable: {request.recommendation}"
    agent.goto(f"/admin/refunds/refundrequest/{request.pk}/change/")
    sent = time.monotonic()
    act(agent, "approve", amount=f"{amount:.2f}")
    mail_of(smtp, reference, sent, "decision")
    assert RefundRequest.objects.get(pk=request.pk).state == "approved"

    # --- finance records the payout by the invoice's original payment method ------------------------
    finance = login(browser, topo, "finance")
    finance.goto(f"/admin/refunds/refundrequest/{request.pk}/change/")
    fields = {"reference": "ch_system_1", "amount": f"{amount:.2f}"}
    if finance.locator('form[data-form="mark_paid"] [name="method"]').count():
        fields["method"] = invoice.payment_method
    sent = time.monotonic()
    act(finance, "mark_paid", **fields)
    mail_of(smtp, reference, sent, "payout_confirmation")
    assert RefundRequest.objects.get(pk=request.pk).state == "paid"

    # --- a manager exports the filtered queue as XLSX: above the threshold, so through the worker ----
    manager = login(browser, topo, "manager")
    manager.goto("/admin/refunds/refundrequest/?reason__exact=money_back_guarantee&status=all")  # open and settled
    sent = time.monotonic()
    manager.click('a[href*="format=xlsx"]')
    manager.wait_for_url("**/admin/reports/exports/**")
    record = wait_for("the export to complete", lambda: ExportRecord.objects.filter(
        status=ExportRecord.Status.COMPLETED, format="xlsx", is_async=True).first())
    print(f"latency export: {time.monotonic() - sent:.2f}s")
    assert record.rows_total == 3 and record.row_count == 3
    download = manager.request.get(f"/admin/reports/exports/{record.pk}/download/")
    assert download.ok and download.body()[:2] == b"PK"
    assert "reports.run_export" in topo.log("exports").read_text()  # on its own queue and worker

    # --- a chargeback import (no earlier request) suspends the customer and fires the webhook --------
    other = factories.invoice_with_plan(issued_on=today - dt.timedelta(days=20))
    folder = topo.tmp / "import"
    folder.mkdir()
    (folder / "chargebacks.csv").write_text(
        "ref,invoice_number,amount,currency,network_reason,received_at,evidence_due,fee\n"
        f"CB-SYS-1,{other.number},100.00,USD,fraud,{timezone.localtime().isoformat(timespec='seconds')},,15.00\n"
    )
    sent = time.monotonic()
    done = topo.manage("import_billing", str(folder))
    assert done.returncode == 0, done.stderr[-3000:]
    imported = time.monotonic()
    assert Chargeback.objects.get(ref="CB-SYS-1").suspension == "suspended"
    wait_for("the suspension webhook", lambda: hooks.calls)
    print(f"latency webhook: {hooks.calls[0][0] - sent:.2f}s after the import started "
          f"(the import process itself took {imported - sent:.2f}s)")

    # --- exactly once: nothing more arrives, and every Message-ID is distinct and stored ---------------
    time.sleep(2)
    assert len(hooks.calls) == 1, hooks.calls
    mine = smtp.matching(lambda r: r.message["X-Januscaler-Refund"] == reference)
    assert sorted(kind_of(r) for r in mine) == sorted(
        ["acknowledgement", "information_request", "decision", "payout_confirmation"])
    assert len({r.message_id for r in mine}) == 4
    assert TIMEOUT <= 30
