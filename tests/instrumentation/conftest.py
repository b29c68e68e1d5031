"""Fixtures of the instrumentation tests."""

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def autogen_instrumented(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """AG2 0.x instrumented, the model scripted (tests/instrumentation/autogen_scripted.py)."""
    from tests.instrumentation.autogen_scripted import instrumented

    yield from instrumented(monkeypatch)
