"""The policy package is pure Python: no Django, no clock, no database (STYLE.md habit 3)."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import januscaler_refunds.policy as policy
from januscaler_refunds.policy import evaluate

POLICY_DIR = Path(policy.__file__).parent
# januscaler_refunds/__init__.py loads the Celery app, whose Django fixup imports django.conf, by
# design (Celery's Django guide); what is tested here is the subpackage's own imports, so the parent
# package is stood in for by an empty one with the same path.
WITHOUT_PACKAGE_INIT = (
    "import sys, types, pathlib\n"
    "package = types.ModuleType('januscaler_refunds')\n"
    "package.__path__ = [str(pathlib.Path('januscaler_refunds').resolve())]\n"
    "sys.modules['januscaler_refunds'] = package\n"
)


def test_importing_the_policy_package_pulls_in_nothing_from_django() -> None:
    code = WITHOUT_PACKAGE_INIT + (
        "import sys, januscaler_refunds.policy\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=POLICY_DIR.parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_no_policy_module_reads_the_clock() -> None:
    # now is always an argument; a call to now()/today()/time() would make evaluations unrepeatable.
    forbidden = {"now", "today", "utcnow", "time", "monotonic"}
    offenders = []
    for path in POLICY_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in forbidden:
                    offenders.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
    assert offenders == []


def test_the_same_facts_and_now_give_the_same_evaluation(facts) -> None:
    built = facts()
    now = built.request.received_at + timedelta(days=2)
    assert evaluate(built, now=now) == evaluate(built, now=now)
