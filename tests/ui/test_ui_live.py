"""Live: a receiver and ``chatsnapshot ui --server`` on it; a run sent over OTLP appears in the runs
table, and its later facts stream into its open page, without a reload (server-sent events from
the receiver's Tail stream)."""

from __future__ import annotations

import pytest

from tests.receiver.conftest import start_receiver
from tests.receiver.test_bad_input import raw_export
from tests.receiver.test_delivery import facts_request
from tests.ui.conftest import UiProcess, Watched

pytestmark = pytest.mark.slow


def test_a_new_run_appears_and_its_facts_stream_into_the_open_page(tmp_path, browser):
    receiver = start_receiver(tmp_path / "ledger", http=None)
    raw_export(receiver.grpc_port, facts_request("live-before", 2)[0])
    ui = UiProcess(["ui", "--server", f"127.0.0.1:{receiver.grpc_port}"])
    watched = Watched(browser, ui.url)
    page = watched.page
    try:
        page.goto(f"{ui.url}/#/runs")
        page.locator("tbody tr a", has_text="live-before").wait_for()
        page.locator("#live.on").wait_for()  # the event stream is open
        loads = len([u for u in watched.requests if u.endswith("/")])

        raw_export(receiver.grpc_port, facts_request("live-new-run", 3)[0])
        row = page.locator("tbody tr", has_text="live-new-run")
        row.wait_for()
        assert row.locator("td.num").nth(1).inner_text() == "3"  # its facts

        row.locator("a").first.click()
        page.locator(".summary", has_text="facts").wait_for()
        page.get_by_role("tab", name="Facts").click()
        page.locator(".facts .row").nth(2).wait_for()
        raw_export(receiver.grpc_port, facts_request("live-new-run", 4)[0])
        page.get_by_text("7 of 7 facts").wait_for()  # streamed into the page
        facts_item = page.locator(".summary > div").filter(has=page.locator(".label", has_text="facts"))
        facts_item.filter(has_text="7").wait_for()  # the summary too
        assert len([u for u in watched.requests if u.endswith("/")]) == loads  # never reloaded
        assert watched.problems == [] and watched.offsite() == []
        watched.shot("live")
    finally:
        watched.close()
        ui.stop()
        receiver.stop(grace=1)
