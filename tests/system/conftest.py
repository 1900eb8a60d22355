"""System tests reuse the browser suite's headless Chromium (tests/browser/conftest.py)."""

from browser.conftest import browser  # noqa: F401 - a fixture, used by name
