from __future__ import annotations

from typing import Any

import pytest
from factories import agent, finance, manager


@pytest.fixture
def a_manager(db: Any) -> Any:
    return manager("boss")


@pytest.fixture
def an_agent(db: Any) -> Any:
    return agent("ann")


@pytest.fixture
def a_finance(db: Any) -> Any:
    return finance("fin")
