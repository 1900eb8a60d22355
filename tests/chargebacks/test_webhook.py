"""The suspension webhook: signed, retried with backoff on failure, every attempt recorded.

A real HTTP server on 127.0.0.1 answers; the Celery task runs eagerly (as in all unit tests). Celery
runs an eager task's retries in-process (``Task.apply`` re-applies the retry signature) as long as
eager exceptions are not propagated, so the receiver fixture turns propagation off and both attempts
happen inside the test, through the production ``self.retry`` path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from factories import invoice_with_plan

from januscaler_refunds.chargebacks import webhooks
from januscaler_refunds.chargebacks.models import WebhookDelivery, WebhookEvent
from januscaler_refunds.chargebacks.tasks import retry_countdown

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret"


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # what to answer, in order; the last one repeats
    calls: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:  # type: ignore[no-untyped-def]
    state = Receiver(url="", statuses=[500, 200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            verified = webhooks.verify(
                SECRET, body=body, timestamp=self.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                signature=self.headers.get(webhooks.SIGNATURE_HEADER, ""),
            )
            status = state.statuses[min(len(state.calls), len(state.statuses) - 1)]
            state.calls.append({"body": json.loads(body), "verified": verified, "headers": dict(self.headers),
                                "status": status})
            self.send_response(status if verified else 401)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"try later")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/januscaler"
    settings.CHARGEBACK_WEBHOOK_URL = state.url
    settings.CHARGEBACK_WEBHOOK_SECRET = SECRET
    settings.CHARGEBACK_WEBHOOK_TIMEOUT_SECONDS = 5
    from januscaler_refunds.celery import app

    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield state
    app.conf.task_eager_propagates = propagates
    server.shutdown()
    server.server_close()


def test_the_webhook_retries_after_a_500_and_its_signature_verifies(
    receiver: Receiver, record, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        chargeback = record(invoice_with_plan(), ref="CB-500")

    assert [c["status"] for c in receiver.calls] == [500, 200]
    assert all(c["verified"] for c in receiver.calls)
    body = receiver.calls[1]["body"]
    assert body["type"] == "customer.suspended"
    assert body["data"]["chargeback"]["ref"] == "CB-500"
    assert body["data"]["customer"]["id"] == chargeback.invoice.customer_id
    assert body["data"]["policy_section"] == "6.1"
    headers = receiver.calls[1]["headers"]
    assert headers[webhooks.EVENT_HEADER] == "customer.suspended"
    assert headers[webhooks.DELIVERY_HEADER] == body["id"]

    event = WebhookEvent.objects.get()
    assert event.delivered_at is not None and event.failed_at is None
    deliveries = list(WebhookDelivery.objects.filter(event=event).values_list("attempt", "status_code", "ok"))
    assert deliveries == [(1, 500, False), (2, 200, True)]


def test_a_delivered_event_is_not_sent_again(receiver: Receiver, record, django_capture_on_commit_callbacks) -> None:
    receiver.statuses = [200]
    with django_capture_on_commit_callbacks(execute=True):
        record(invoice_with_plan())
    from januscaler_refunds.chargebacks.tasks import deliver_webhook

    assert deliver_webhook.delay(str(WebhookEvent.objects.get().pk)).get() == "nothing to do"
    assert len(receiver.calls) == 1


def test_retries_stop_at_the_limit_and_the_event_is_marked_failed(
    receiver: Receiver, record, settings, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [503]
    settings.CHARGEBACK_WEBHOOK_MAX_RETRIES = 2
    with django_capture_on_commit_callbacks(execute=True):
        record(invoice_with_plan())
    event = WebhookEvent.objects.get()
    assert event.deliveries.count() == 3  # the first attempt and two retries
    assert event.failed_at is not None and event.delivered_at is None


def test_a_refusal_other_than_408_429_or_5xx_is_not_retried(
    receiver: Receiver, record, django_capture_on_commit_callbacks
) -> None:
    receiver.statuses = [410]
    with django_capture_on_commit_callbacks(execute=True):
        record(invoice_with_plan())
    assert len(receiver.calls) == 1
    assert WebhookEvent.objects.get().failed_at is not None


def test_no_signed_call_leaves_without_the_secret_matching(
    receiver: Receiver, record, settings, django_capture_on_commit_callbacks
) -> None:
    settings.CHARGEBACK_WEBHOOK_SECRET = "not-the-receivers-secret"
    receiver.statuses = [200]
    with django_capture_on_commit_callbacks(execute=True):
        record(invoice_with_plan())
    assert receiver.calls[0]["verified"] is False
    assert WebhookDelivery.objects.filter(status_code=401, ok=False).count() == 1


def test_verify_refuses_a_changed_body_and_a_stale_timestamp() -> None:
    body = webhooks.encode_body({"a": 1})
    signature = webhooks.sign("k", 1_700_000_000, body)
    assert webhooks.verify("k", body=body, timestamp="1700000000", signature=signature, now=1_700_000_010)
    assert not webhooks.verify("k", body=body + b" ", timestamp="1700000000", signature=signature, now=1_700_000_010)
    assert not webhooks.verify("k", body=body, timestamp="1700000000", signature=signature, now=1_700_000_000 + 301)
    assert not webhooks.verify("k", body=body, timestamp="x", signature=signature)


def test_the_backoff_doubles_up_to_the_cap_below_the_visibility_timeout(settings) -> None:  # type: ignore[no-untyped-def]
    cap = settings.CELERY_RETRY_COUNTDOWN_MAX  # below the visibility timeout (docs/operations.md)
    assert [retry_countdown(n) for n in range(8)] == [min(30 * 2**n, cap) for n in range(8)]


def test_without_a_url_events_are_stored_and_nothing_is_sent(record, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record(invoice_with_plan())
    event = WebhookEvent.objects.get()
    assert event.delivered_at is None and not event.deliveries.exists()
