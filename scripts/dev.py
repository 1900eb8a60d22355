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


def start() -> None:
    ensure_venv()
    env = dict(os.environ)
    (ROOT / "var").mkdir(exist_ok=True)
    run(PY, "manage.py", "migrate", "--noinput", env=env)
    run(PY, "manage.py", "collectstatic", "--noinput", "--verbosity", "0", env=env)
    run(PY, "manage.py", "demo_data", env=env)
    port = env.setdefault("PORT", "8000")
    password = env.get("DEMO_PASSWORD", "demo")
    print(
        "\n"
        f"  Januscaler Refunds is starting at  http://127.0.0.1:{port}/admin/\n"
        f"  Demo logins (password '{password}'):  agent  ·  manager  ·  finance\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    os.execve(
        str(BIN / "honcho"),
        [str(BIN / "honcho"), "start", "--no-prefix", "-f", "Procfile", "web", "worker", "beat"],
        {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
    )


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
    cmd = [str(PY), "-m", "pytest", "-n", workers, "--dist", "loadgroup", *args]
    print("+", " ".join(cmd), flush=True)
    sys.exit(subprocess.run(cmd, cwd=ROOT, env=env).returncode)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"start", "test"}:
        sys.exit(__doc__)
    if sys.argv[1] == "start":
        start()
    else:
        test(sys.argv[2:])


if __name__ == "__main__":
    main()
