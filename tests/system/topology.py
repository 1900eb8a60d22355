"""The deployed topology as real processes: the Procfile's lines, a real SMTP server, a webhook receiver.

Used by tests/system. Every process gets this test's PostgreSQL database, Redis, queues of its own
(CELERY_TASK_DEFAULT_QUEUE / CELERY_EXPORT_QUEUE) and free loopback ports; nothing is shared with
other tests running at the same time. Processes run in their own session and are killed in teardown.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


# --- a real SMTP server (aiosmtpd) --------------------------------------------------------------


@dataclass
class Received:
    at: float
    to: list[str]
    message: email.message.EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "").strip()


@dataclass
class SmtpSink:
    port: int
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering "250 OK": a slower server widens the send window

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(time.monotonic(), list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [r for r in list(self.received) if predicate(r)]


def start_smtp() -> tuple[SmtpSink, Any]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    return sink, controller


# --- the chargeback webhook's receiver -------------------------------------------------------------


@dataclass
class WebhookSink:
    url: str = ""
    calls: list[tuple[float, dict[str, Any], dict[str, str]]] = field(default_factory=list)


def start_webhook_receiver() -> tuple[WebhookSink, ThreadingHTTPServer]:
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            sink.calls.append((time.monotonic(), json.loads(body), dict(self.headers)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/januscaler"
    return sink, server


# --- the processes ---------------------------------------------------------------------------------


class Topology:
    """web, worker(s) and beat from the Procfile, with this test's environment."""

    def __init__(self, tmp: Path, redis_url: str, **env: str) -> None:
        self.tmp = tmp
        self.redis_url = redis_url
        tag = uuid.uuid4().hex[:8]
        self.queue = f"system-{tag}"
        self.export_queue = f"system-exports-{tag}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if k not in {"CI", "PYTEST_XDIST_WORKER", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
            and not k.startswith(("PYTEST_", "EMAIL_", "CELERY_TASK_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="januscaler_refunds.settings",
            DATABASE_URL=database_url(),
            REDIS_URL=self.redis_url,
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            CELERY_EXPORT_QUEUE=self.export_queue,
            VAR_DIR=str(self.tmp / "var"),
            PORT=str(self.port),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **self.extra,
            **extra,
        )
        return env

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start(self, name: str, command: str | None = None, **env: str) -> subprocess.Popen[bytes]:
        (self.tmp / "var").mkdir(exist_ok=True)
        command = command or procfile()[name].strip()
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=ROOT, env=self.env(**env),
            stdout=self.log(name).open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True,
            text=True, timeout=timeout,
        )

    def wait_ready(self, name: str, marker: bytes = b" ready.") -> None:
        def ready() -> bool:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name).read_text()[-3000:]}")
            return marker in self.log(name).read_bytes()

        wait_for(f"{name} to be ready", ready, timeout=60)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            proc.wait(timeout=20)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)
