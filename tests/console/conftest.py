"""Fixtures for the review console: role users, logged-in clients, requests in each state."""

from __future__ import annotations

from typing import Any

import factories
import pytest


@pytest.fixture
def agent_user(db: Any) -> Any:
    return factories.agent()


@pytest.fixture
def manager_user(db: Any) -> Any:
    return factories.manager()


@pytest.fixture
def finance_user(db: Any) -> Any:
    return factories.finance()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """Role users are created per test; the production hasher would cost a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
