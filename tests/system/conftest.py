"""System tests use the session-wide headless Chromium of tests/conftest.py (``browser``)."""
