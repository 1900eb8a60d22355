"""Production settings, observed from a real `manage.py` process (house style 11).

Issue 12, finding 7: with DEBUG=false `check --deploy` warned W004 (HSTS), W008 (SSL redirect),
W012/W016 (insecure cookies). With the production variables it is now clean at WARNING level, and a
missing production secret stops the process at start-up with a message naming it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DEBUG", "SECRET_KEY", "ALLOWED_"))}
    base.pop("DATABASE_URL", None)  # the checks below need no database server
    base.update({"VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=180
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "refunds.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO=https",
}


def test_check_deploy_is_clean_under_production_variables(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_send_hsts_secure_cookies_and_csp(tmp_path: Path) -> None:
    script = (
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SESSION_COOKIE_HTTPONLY, s.SECURE_PROXY_SSL_HEADER, sorted(s.OTP_REQUIRED_ROLES))"
    )
    result = _manage(tmp_path, "shell", "-c", script, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "31536000 True True True True ('HTTP_X_FORWARDED_PROTO', 'https') ['finance', 'manager']"
    )


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set when DEBUG is off"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS must be set when DEBUG is off"),
    ],
)
def test_a_missing_production_secret_stops_start_up(tmp_path: Path, missing: str, message: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_a_short_secret_key_is_refused_in_production(tmp_path: Path) -> None:
    result = _manage(tmp_path, "check", **{**PRODUCTION, "SECRET_KEY": "changeme"})
    assert result.returncode != 0 and "at least 50" in result.stderr
