"""Helpers for the browser tests. The ``browser`` and ``page`` fixtures live in tests/conftest.py:
one session-wide Playwright for every folder (a second sync_playwright() in the same process fails
with "Sync API inside the asyncio loop").

Never ``playwright install``: it downloads a browser, which this machine cannot.
"""

from __future__ import annotations

from typing import Any


def login(page: Any, username: str, password: str = "pw") -> None:
    """Log in through the real admin login form."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/admin/**")
