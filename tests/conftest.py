"""Suite-wide fixtures and the rule for tests that need real services.

Tests marked ``postgres``, ``redis`` or ``browser`` skip with a clear reason
where that service is absent, and FAIL instead under ``CI=true``: CI must
never go green by skipping the integration tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "artifacts"
SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def _missing(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (CI=true: required here, not skipped)", pytrace=False)
    pytest.skip(reason)


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            _missing("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test")
    if item.get_closest_marker("redis") or item.get_closest_marker("celery_worker"):
        if not redis_available():
            _missing(f"needs Redis at {TEST_REDIS_URL}: start redis-server or set REDIS_URL")
    if item.get_closest_marker("browser"):
        if not Path(CHROMIUM).exists():
            _missing(f"needs Chromium at {CHROMIUM}: apt-get install chromium chromium-driver")


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Uploaded documents go to a temporary folder, never into var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # The real hasher costs about a second per user created; tests need no key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _celery_eager() -> Iterator[None]:
    """Unit tests run tasks in-process; integration tests start a real worker and turn this off.

    The app comes from the package (``januscaler_refunds/__init__.py`` loads it); the suite never
    wires it itself, so a missing ``__init__`` import fails here and in tests/system.
    """
    from januscaler_refunds import celery_app as app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


def restore_reference_data() -> None:
    """Re-create what data migrations made (first policy version, roles).

    Transactional tests flush every table when they end, which removes rows
    that migrations created; the next transactional test puts them back here.
    """
    import datetime as dt

    from django.apps import apps as django_apps

    from januscaler_refunds.billing.models import PolicyVersion
    from januscaler_refunds.refunds.roles import sync_roles

    PolicyVersion.objects.get_or_create(
        effective_date=dt.date(2025, 1, 6),
        defaults={"label": "2025-01-06", "announced_on": dt.date(2024, 12, 30)},
    )
    sync_roles(django_apps)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        restore_reference_data()


# --- headless Chromium (Debian's /usr/bin/chromium) driven by Playwright ------------------------
# One session-wide browser for every folder (browser/, security/, system/): a fixture defined or
# imported in two modules would start a second sync_playwright() in the same process, which fails.
# Never ``playwright install``: it downloads a browser, which this machine cannot.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test itself are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
