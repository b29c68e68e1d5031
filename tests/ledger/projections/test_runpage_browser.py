"""The exported run page (``chatsnapshot view``) in a real headless browser (Debian's Chromium,
driven by Playwright): it loads from disk with no network and no console errors, has one DAG node
per fact, and a click shows the fact's envelope.

The screenshot lands in build/screenshots/run-page.png for people to look at. ``make test``
installs Chromium and sets CHATSNAPSHOT_REQUIRE_BROWSER=1, so there a missing browser fails;
elsewhere the test is skipped when Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from chatsnapshot.ledger import Ledger
from tests.helpers import ROOT
from tests.ledger.projections.golden_run import RUN, build_golden_ledger

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps"]
SCREENSHOT = ROOT / "build" / "screenshots" / "run-page.png"


def chromium() -> str:
    path = os.environ.get("CHATSNAPSHOT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    required = os.environ.get("CHATSNAPSHOT_REQUIRE_BROWSER") == "1"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if path is None:
        if required:
            pytest.fail("no Chromium: make test installs Debian's chromium; or set CHATSNAPSHOT_CHROMIUM")
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    return path


@pytest.mark.slow
def test_the_exported_run_page_loads_offline_and_shows_a_clicked_fact(tmp_path, browser):
    """``chatsnapshot view``: the web UI's run view in one file, opened from disk."""
    ledger = build_golden_ledger(tmp_path / "ledger")
    page_file = tmp_path / "run.html"
    done = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger), "view", RUN,
                           "-o", str(page_file)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with Ledger.open(ledger, readonly=True) as opened:
        facts = list(opened.replay(RUN))
    tool_call = next(e for e in facts if e.event_type == "execution.tool_call")

    problems: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri(), wait_until="load")
        page.locator(".bubble", has_text="Plan 3 days in Lisbon.").wait_for()  # the conversation

        page.get_by_role("tab", name="Causal DAG").click()
        assert page.locator(".dag-node").count() == len(facts)  # one node per fact
        assert page.locator(".dag-node rect[stroke-dasharray]").count() == 1  # the cause never received
        page.locator(f".dag-node[data-seq='{tool_call.seq}']").click()
        page.locator(".detail h2", has_text=f"Fact #{tool_call.seq}").wait_for()
        page.locator(".detail pre", has_text=tool_call.event_id).wait_for()  # the envelope, carried in the file
        shown = json.loads(page.locator(".detail pre").text_content() or "")
        assert shown["event_id"] == tool_call.event_id and shown["payload"] == tool_call.payload

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        page.close()
    assert problems == []
    assert requests == [page_file.as_uri()]  # nothing but the file itself: no network, nothing external
    assert SCREENSHOT.stat().st_size > 10_000
