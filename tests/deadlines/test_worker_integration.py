"""A real Celery worker and beat (subprocesses) against real Redis and PostgreSQL.

Each test starts its own worker on a queue of its own, pointed at the test database, sending
mail with the file backend into tmp_path so the test can count what really went out. Tasks are
sent from this process with an explicit queue. Subprocesses are killed in fixture teardown.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from factories import make_request, make_user

from januscaler_refunds.celery import app
from januscaler_refunds.deadlines import services
from januscaler_refunds.deadlines.models import Alert, AlertNotification
from januscaler_refunds.deadlines.tasks import scan_deadlines
from januscaler_refunds.policy.calendar import end_of_day, local_date
from januscaler_refunds.refunds.evaluation import business_calendar
from januscaler_refunds.refunds.models import RefundRequest

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("celery"),
]

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
TEST_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"
TIMEOUT = 30.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """Processes of one test: worker(s), beat(s), maybe a Redis of its own."""

    def __init__(self, tmp: Path, broker: str) -> None:
        self.tmp = tmp
        self.broker = broker
        self.queue = f"deadlines-test-{uuid.uuid4().hex[:8]}"
        self.mail_dir = tmp / "mail"
        self.mail_dir.mkdir()
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_XDIST_WORKER"}}
        env.update(
            DJANGO_SETTINGS_MODULE="januscaler_refunds.settings",
            DATABASE_URL=database_url(),
            REDIS_URL=self.broker,
            CELERY_BROKER_URL=self.broker,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(self.mail_dir),
            VAR_DIR=str(self.tmp / "var"),
            LOG_LEVEL="INFO",
            **extra,
        )
        return env

    def spawn(self, name: str, args: list[str], **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env(**env), stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc, log

    def worker(self, *, concurrency: int = 1, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        name = f"worker{len(self.procs)}"
        proc, log = self.spawn(name, [
            CELERY, "-A", "januscaler_refunds", "worker", "-P", "prefork", "-c", str(concurrency),
            "-Q", self.queue, "-n", f"{name}-{self.queue}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel=INFO",
        ], **env)
        wait_for(f"{name} to be ready", lambda: b" ready." in log.read_bytes())
        return proc, log

    def beat(self, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        name = f"beat{len(self.procs)}"
        (self.tmp / "var").mkdir(exist_ok=True)
        return self.spawn(name, [
            CELERY, "-A", "januscaler_refunds", "beat", "-s", str(self.tmp / f"{name}-schedule"),
            "--loglevel=INFO",
        ], **env)

    def send_scan(self) -> None:
        # send_task: always to the broker, whatever the unit tests' eager setting.
        with app.connection_for_write(self.broker) as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # AlwaysEagerIgnored: exactly what we want here
            app.send_task(scan_deadlines.name, connection=conn, queue=self.queue)

    def alert_emails(self, reference: str = "") -> int:
        count = 0
        for path in self.mail_dir.glob("*"):
            for message in path.read_text().split("-" * 79):
                if "X-Januscaler-Alert:" in message and reference in message:
                    count += 1
        return count

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)


def succeeded(log: Path, task: str = "scan_deadlines") -> int:
    return sum(1 for line in log.read_text().splitlines() if f"tasks.{task}[" in line and "succeeded" in line)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    redis.Redis.from_url(TEST_REDIS).flushdb()
    s = Stack(tmp_path, TEST_REDIS)
    yield s
    s.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A redis-server of this test on a free loopback port, with start/stop (never the shared one)."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    state: dict[str, subprocess.Popen[bytes] | None] = {"proc": None}

    def control(action: str) -> str:
        if action == "start":
            state["proc"] = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"], stdout=(tmp_path / "redis.log").open("ab"), stderr=subprocess.STDOUT,
            )
            wait_for("redis to answer", lambda: _ping(url))
        elif state["proc"] is not None:
            state["proc"].kill()
            state["proc"].wait(timeout=10)
            state["proc"] = None
        return url

    yield control
    control("stop")


def _ping(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def near_request() -> RefundRequest:
    """A request whose review deadline is one business day away (near) on the real today."""
    request = make_request(received_at=timezone.now() - dt.timedelta(hours=1))
    due = business_calendar().add_business_days(local_date(timezone.now()), 1)
    RefundRequest.objects.filter(pk=request.pk).update(review_due_at=end_of_day(due))
    return request


def test_crossing_into_near_alerts_once_after_two_scans_and_two_beats(stack: Stack) -> None:
    first = near_request()
    _, log = stack.worker(concurrency=2)
    stack.send_scan()
    stack.send_scan()
    wait_for("both scans", lambda: succeeded(log) >= 2)
    wait_for("the alert email", lambda: stack.alert_emails(first.reference) >= 1)
    # Two beat processes at once, each sending a scan every second.
    second = near_request()
    stack.beat(DEADLINE_SCAN_SECONDS="1")
    stack.beat(DEADLINE_SCAN_SECONDS="1")
    wait_for("six beat scans", lambda: succeeded(log) >= 8)
    wait_for("the second alert email", lambda: stack.alert_emails(second.reference) >= 1)
    time.sleep(1)  # let any duplicate send land before counting
    for request in (first, second):
        assert Alert.objects.filter(request=request).count() == 1
        assert AlertNotification.objects.filter(alert__request=request, status="sent").count() == 1
        assert stack.alert_emails(request.reference) == 1


def test_a_worker_killed_mid_scan_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    request = near_request()
    marker = stack.tmp / "scan-running"
    _, log = stack.worker(DEADLINE_SCAN_TEST_DELAY="3", DEADLINE_SCAN_TEST_MARKER=str(marker))
    stack.send_scan()
    pid = int(wait_for("the scan to be mid-way", lambda: marker.exists() and marker.read_text()))
    os.kill(pid, signal.SIGKILL)  # the pool process running the scan, inside its transaction
    marker.unlink()
    assert not Alert.objects.exists()  # its transaction died with it
    # acks_late + reject_on_worker_lost: the message goes back to the queue and runs again.
    wait_for("the redelivered scan", lambda: succeeded(log) >= 1)
    wait_for("the alert email", lambda: stack.alert_emails(request.reference) >= 1)
    assert "WorkerLostError" in log.read_text() or "exited with 'signal 9" in log.read_text()
    stack.send_scan()
    wait_for("one more scan", lambda: succeeded(log) >= 2)
    assert Alert.objects.filter(request=request).count() == 1
    assert stack.alert_emails(request.reference) == 1


def test_with_redis_stopped_the_admin_works_and_alerts_catch_up(
    tmp_path: Path, own_redis: Callable[[str], str], client: Any
) -> None:
    url = own_redis("start")
    stack = Stack(tmp_path, url)
    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.task_default_queue)
    try:
        _, log = stack.worker()
        stack.beat(DEADLINE_SCAN_SECONDS="1")
        own_redis("stop")
        # This process enqueues to the stopped broker too.
        app.conf.update(task_always_eager=False, broker_url=url, task_default_queue=stack.queue)
        app._pool = None
        app.amqp._producer_pool = None

        request = near_request()
        boss = make_user("boss", is_superuser=True)
        client.force_login(boss)
        pages = [reverse("admin:deadlines_alert_changelist")]
        try:
            pages.append(reverse("admin:refunds_refundrequest_changelist"))
        except NoReverseMatch:
            pass
        for page in pages:
            assert client.get(page).status_code == 200, page
        started = time.monotonic()
        alert = services.raise_alert(
            subject_type="dispute", subject_id=7, kind="evidence", level="near",
            due_at=end_of_day(local_date(timezone.now())), recipients=["disputes@januscaler.com"],
            subject="Evidence for dispute 7 due today", body="Send the evidence.\n",
        )
        assert alert is not None and time.monotonic() - started < 10
        notification = alert.notifications.get()
        assert notification.status == "pending" and notification.enqueued_at is None
        assert notification.error.startswith("not queued")
        assert stack.alert_emails() == 0

        own_redis("start")
        wait_for("the request's alert email", lambda: stack.alert_emails(request.reference) == 1, timeout=45)
        wait_for("the dispute email", lambda: stack.alert_emails("dispute 7") == 1, timeout=30)
        assert Alert.objects.filter(request=request).count() == 1
        assert succeeded(log) >= 1
    finally:
        stack.stop()
        app.conf.update(task_always_eager=saved[0], broker_url=saved[1], task_default_queue=saved[2])
        app._pool = None
        app.amqp._producer_pool = None
