"""The Procfile's lines as a platform runs them (through /bin/sh), without starting anything."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from system.topology import procfile


def expand(line: str, **env: str) -> str:
    """What /bin/sh makes of a Procfile line, with ``exec`` swapped for ``echo``."""
    base = {k: v for k, v in os.environ.items() if k not in {"PORT", "CELERY_TASK_DEFAULT_QUEUE", "CELERY_EXPORT_QUEUE"}}
    done = subprocess.run(["/bin/sh", "-c", re.sub(r"^exec ", "echo ", line.strip())], env={**base, **env},
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(("env", "bind"), [({}, "127.0.0.1:8000"), ({"PORT": "5123"}, "0.0.0.0:5123")])
def test_web_binds_all_interfaces_only_when_the_platform_sets_port(env: dict[str, str], bind: str) -> None:
    assert f"--bind {bind} " in expand(procfile()["web"], **env)


def test_release_migrates_then_collects_static() -> None:
    release = procfile()["release"]
    assert release.index("migrate --noinput") < release.index("collectstatic --noinput")


def test_mail_and_exports_have_workers_on_their_own_queues() -> None:
    lines = procfile()
    assert "-Q celery " in expand(lines["worker"]) + " "
    assert "-Q exports " in expand(lines["exports"]) + " "
    assert "-Q mail-q " in expand(lines["worker"], CELERY_TASK_DEFAULT_QUEUE="mail-q") + " "
    assert all(lines[name].lstrip().startswith("exec ") for name in ("web", "worker", "exports", "beat"))
