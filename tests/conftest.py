"""Shared fixtures: ledgers live in pytest's tmp_path, on a real disk; a headless Chromium per test
module (Playwright's sync API runs one driver per thread, and its event loop stays on the main
thread while it runs: a session-wide browser would break every later test that calls asyncio.run)."""

from __future__ import annotations

import pytest

from tests.helpers import make_facts


@pytest.fixture
def facts():
    return make_facts


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (``tests.ledger.projections.test_runpage_browser.chromium``
    finds it, or skips or fails as ``make test`` asks)."""
    from playwright.sync_api import sync_playwright

    from tests.ledger.projections.test_runpage_browser import FLAGS, chromium

    executable = chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        yield b
        b.close()
