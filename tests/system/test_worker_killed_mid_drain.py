"""Faults without surprises: SIGKILL the worker while it drains 200 customer messages.

A real worker (the Procfile's line) sends over SMTP to aiosmtpd; midway it is killed with SIGKILL
(main process and pool children), then started again. Afterwards every message has been sent, any
message that went out twice went out under the same Message-ID (the one fixed at creation), and no
task stayed parked in Redis's ``unacked`` longer than the visibility timeout, set short here.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections import defaultdict
from typing import Any

import pytest
import redis
from factories import make_request
from system.topology import Topology, start_smtp, wait_for

from januscaler_refunds import celery_app
from januscaler_refunds.refunds.models import CustomerMessage
from januscaler_refunds.refunds.notifications import new_message_id
from januscaler_refunds.refunds.tasks import send_customer_message

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("celery"),
]

TEST_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
MESSAGES = 200
VISIBILITY_TIMEOUT = 10


def unacked_for(client: redis.Redis, queue: str) -> set[str]:
    """Delivery tags of this queue's messages that a worker took and has not acknowledged."""
    tags = set()
    for tag, raw in client.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            tags.add(tag.decode())
    return tags


def test_sigkill_mid_drain_loses_nothing_and_re_sends_only_under_the_same_message_id(
    tmp_path: Any, transactional_db: Any
) -> None:
    smtp, controller = start_smtp()
    smtp.delay = 0.05
    topo = Topology(
        tmp_path, TEST_REDIS,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port), CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        CELERY_TASK_TIME_LIMIT="5", CELERY_TASK_SOFT_TIME_LIMIT="4", CELERY_RETRY_COUNTDOWN_MAX="4",
    )
    client = redis.Redis.from_url(TEST_REDIS)
    try:
        request = make_request()
        rows = CustomerMessage.objects.bulk_create(
            CustomerMessage(
                request=request, direction=CustomerMessage.Direction.OUTBOUND, kind="information_request",
                to_email=request.requester_email, subject=f"Drain {i:03d}", body="-",
                message_id=new_message_id(reference=request.reference), status=CustomerMessage.Status.QUEUED,
            )
            for i in range(MESSAGES)
        )
        smtp.received.clear()
        with celery_app.connection_for_write(TEST_REDIS) as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # AlwaysEagerIgnored: to the broker is the point
            for row in rows:
                celery_app.send_task(send_customer_message.name, args=[row.pk], queue=topo.queue, connection=conn)

        topo.start("worker")
        wait_for("a quarter of the messages to go out", lambda: len(smtp.received) >= MESSAGES // 4, timeout=90)
        topo.kill("worker")  # SIGKILL to the process group: main process and pool children
        killed_at = time.monotonic()
        at_kill = len(smtp.received)
        parked = unacked_for(client, topo.queue)
        print(f"killed after {at_kill} sends; {len(parked)} task(s) parked in unacked")

        topo.start("worker")
        wait_for("every message to be marked sent", lambda: not CustomerMessage.objects.filter(
            pk__in=[r.pk for r in rows]).exclude(status=CustomerMessage.Status.SENT).exists(),
            timeout=VISIBILITY_TIMEOUT + 90, every=0.5)
        wait_for("the parked tasks to leave unacked", lambda: not (parked & unacked_for(client, topo.queue)),
                 timeout=VISIBILITY_TIMEOUT + 30, every=0.5)
        print(f"all sent and unacked clear {time.monotonic() - killed_at:.1f}s after the kill")
        time.sleep(2)  # anything still in flight would arrive now

        by_subject: dict[str, list[str]] = defaultdict(list)
        for received in smtp.received:
            by_subject[str(received.message["Subject"])].append(received.message_id)
        expected = {r.subject: f"<{r.message_id}>" for r in rows}
        assert set(by_subject) == set(expected), "every message went out"
        for subject, ids in by_subject.items():
            assert set(ids) == {expected[subject]}, f"{subject} went out under {ids}"
        twice = {s: len(ids) for s, ids in by_subject.items() if len(ids) > 1}
        print(f"re-sent under the same Message-ID: {twice or 'none'}")
        assert sum(twice.values()) - len(twice) <= len(parked) + 2  # only what was in flight at the kill
        assert not unacked_for(client, topo.queue)
    finally:
        topo.stop()
        controller.stop()
        client.delete(topo.queue)
