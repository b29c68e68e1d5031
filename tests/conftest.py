"""Shared fixtures: ledgers live in pytest's tmp_path, on a real disk."""

from __future__ import annotations

import pytest

from tests.helpers import make_facts


@pytest.fixture
def facts():
    return make_facts
