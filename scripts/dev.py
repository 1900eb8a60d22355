#!/usr/bin/env python3
"""The README's two commands, for a fresh machine that has only Python 3.11+.

    python3 scripts/dev.py start   # install, migrate, load demo data, run web + worker + beat
    python3 scripts/dev.py test    # install with the test extra, run ruff and mypy, then the whole suite

Everything is installed into ./.venv; nothing outside the project is touched.
Extra arguments after ``test`` go to pytest (e.g. ``-k deadlines``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True, env=env)


def ensure_venv(extra: str = "") -> None:
    # pyproject says >=3.11, but this script runs under whatever `python3` a fresh machine has,
    # before any install, so the check must stay to give a clear message on older Pythons.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extra}]" if extra else "."
    run(PY, "-m", "pip", "install", "--quiet", "-e", target)


# Run once before the processes start: one deadline scan and one evidence scan, so the first page
# view shows today's truth, then every staff user for the banner (whatever demo_data made).
STARTUP = """
from django.contrib.auth import get_user_model
from januscaler_refunds.chargebacks.tasks import scan_evidence_due
from januscaler_refunds.deadlines.tasks import scan_deadlines
print("Deadline scan:", scan_deadlines(), "| evidence scan:", scan_evidence_due())
for user in get_user_model().objects.filter(is_active=True, is_staff=True).prefetch_related("groups").order_by("username"):
    print("USER", user.username, ", ".join(g.name for g in user.groups.all()) or "staff")
"""

# What `start` runs from the Procfile (the release line ran above, step by step).
PROCESSES = ("web", "worker", "exports", "beat")
STOP_GRACE_SECONDS = 30


def start() -> None:
    ensure_venv()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    (ROOT / "var").mkdir(exist_ok=True)
    run(PY, "manage.py", "migrate", "--noinput", env=env)
    run(PY, "manage.py", "collectstatic", "--noinput", "--verbosity", "0", env=env)
    run(PY, "manage.py", "demo_data", env=env)
    out = subprocess.run([str(PY), "manage.py", "shell", "-c", STARTUP], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    users = [line.split(" ", 2)[1:] for line in out if line.startswith("USER ")]
    print("\n".join(line for line in out if not line.startswith("USER ")), flush=True)
    # Without PORT the Procfile binds 127.0.0.1:8000; with PORT it binds 0.0.0.0:$PORT.
    port = env.get("PORT") or "8000"
    password = env.get("DEMO_PASSWORD", "demo")
    width = max((len(u[0]) for u in users), default=8)
    print(
        "\n"
        f"  Januscaler Refunds is starting at  http://127.0.0.1:{port}/admin/\n"
        f"  Demo logins (password '{password}'):\n"
        + "".join(f"    {name:<{width}}  {role}\n" for name, role in users)
        + "  Health: /health/   Stop with Ctrl-C.\n",
        flush=True,
    )
    sys.exit(supervise(PROCESSES, env))


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))}


def supervise(names: tuple[str, ...], env: dict[str, str]) -> int:
    """Run Procfile lines, prefix their output, stop them all cleanly on Ctrl-C or when one exits.

    Each process runs in a session of its own, so the terminal's Ctrl-C reaches only this script,
    which sends SIGTERM to each process's main pid (never to its group): gunicorn and Celery then
    stop their own children the graceful way, without "exited with signal 15" lines. SIGKILL only
    if a process is still there after STOP_GRACE_SECONDS.
    """
    import signal
    import threading
    import time

    lines = procfile()
    width = max(len(n) for n in names)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def pump(name: str, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
            sys.stdout.flush()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for name in names:
        proc = subprocess.Popen(["/bin/sh", "-c", lines[name]], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs[name] = proc
        threading.Thread(target=pump, args=(name, proc.stdout), daemon=True).start()
    while not stopping.is_set() and all(p.poll() is None for p in procs.values()):
        stopping.wait(0.2)
    print(f"{'start':<{width}} | stopping {', '.join(n for n, p in procs.items() if p.poll() is None)}", flush=True)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{'start':<{width}} | {name} did not stop in {STOP_GRACE_SECONDS}s; killing it", flush=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(0.2)  # let the pumps print the last lines
    failed = {n: p.returncode for n, p in procs.items() if p.returncode not in (0, None)}
    print(f"{'start':<{width}} | stopped" + (f" ({failed})" if failed else ""), flush=True)
    return 1 if failed else 0


# The same static checks CI runs (house style, habit 9). mypy keeps its cache in .mypy_cache, so a
# second run takes about a second.
CHECKS = (
    ("ruff", ("-m", "ruff", "check", "januscaler_refunds", "tests", "scripts", "bench")),
    ("mypy", ("-m", "mypy", "januscaler_refunds")),
)


def static_checks(env: dict[str, str]) -> None:
    for name, args in CHECKS:
        cmd = [str(PY), *args]
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
            sys.exit(f"{name} failed (see above); fix it before the tests run.")


def test(args: list[str]) -> None:
    ensure_venv("test")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    static_checks(env)
    # Two processes by default: the suite is sized for a 2-core machine.
    workers = env.get("TEST_WORKERS", "2")
    if args:
        cmd = [str(PY), "-m", "pytest", "-n", workers, "--dist", "loadgroup", *args]
        print("+", " ".join(cmd), flush=True)
        sys.exit(subprocess.run(cmd, cwd=ROOT, env=env).returncode)
    # The whole suite: everything in parallel except tests/system, which then runs alone. Those
    # tests start the deployed processes (gunicorn, workers, beat) and kill workers on purpose;
    # beside another test's worker on the same Redis they would measure the neighbour, not us.
    runs = (
        [str(PY), "-m", "pytest", "-n", workers, "--dist", "loadgroup", "--ignore=tests/system"],
        [str(PY), "-m", "pytest", "-n", "0", "tests/system"],
    )
    failed = 0
    for cmd in runs:
        print("+", " ".join(cmd), flush=True)
        failed = failed or subprocess.run(cmd, cwd=ROOT, env=env).returncode
    sys.exit(failed)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"start", "test"}:
        sys.exit(__doc__)
    if sys.argv[1] == "start":
        start()
    else:
        test(sys.argv[2:])


if __name__ == "__main__":
    main()
