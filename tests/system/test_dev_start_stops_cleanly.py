"""`scripts/dev.py start` runs the Procfile's processes and stops them cleanly on Ctrl-C.

The supervisor is started as a subprocess with the real Procfile lines (web, worker, exports,
beat) against this test's database and Redis; SIGINT (what Ctrl-C sends) must end every process
gracefully: exit code 0, no "signal 15" from Celery's pool, no SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from system.topology import ROOT, Topology, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("celery"),
]

TEST_REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
SUPERVISE = "import os, sys; sys.path.insert(0, 'scripts'); import dev; sys.exit(dev.supervise(dev.PROCESSES, dict(os.environ)))"


def test_ctrl_c_stops_web_workers_and_beat_without_signal_noise(tmp_path: Path, transactional_db: Any) -> None:
    topo = Topology(tmp_path, TEST_REDIS, PYTHONUNBUFFERED="1")
    (tmp_path / "var").mkdir()
    log = tmp_path / "start.log"
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISE], cwd=ROOT, env=topo.env(),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for marker in ("worker@", "exports@", "Booting worker", "beat: Starting"):
            wait_for(f"{marker!r} in the output", lambda m=marker: m in log.read_text() and
                     ("ready." in log.read_text() or m != "worker@"), timeout=90)
        wait_for("both workers ready", lambda: log.read_text().count(" ready.") >= 2, timeout=90)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = log.read_text()
    assert "stopped\n" in out.splitlines(keepends=True)[-1]
    assert "Warm shutdown" in out and "Shutting down: Master" in out
    for noise in ("signal 15", "SIGTERM)", "SIGKILL", "killing it", "Traceback"):
        assert noise not in out, f"{noise!r} in:\n{out[-3000:]}"
