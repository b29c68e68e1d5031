"""The web UI under test: a real ``chatsnapshot ui`` process over a real ledger, driven by Playwright
in Debian's Chromium (the session's ``browser`` fixture, tests/conftest.py).

The ledger holds the demo's recorded run (the golden run), a failed run, a fork of the golden run,
a run of 10,000 facts, and 10,000 small generated runs, one of which says "zanzibar".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatsnapshot.ledger import Envelope, Ledger, LedgerOptions, fork
from tests.helpers import ROOT, free_port
from tests.ledger.projections.golden_run import RUN, golden_envelopes

FAILED = "0190c0de-0000-7000-8000-00000000fa11"
LONG = "0190c0de-0000-7000-8000-0000000010a9"
GENERATED = 10_000
CONVERSATION = "conv-trip-42"  # three runs of one conversation (as GenAI spans' gen_ai.conversation.id says)
RUNS = GENERATED + 7  # the golden run, the failed run, the fork, the long run, the conversation's three
LONG_FACTS = 10_000
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"


def failed_run() -> list[Envelope]:
    def fact(kind: str, cause: Envelope | None, by: str, **payload) -> Envelope:
        return Envelope.create(kind, correlation_id=FAILED, causation_id=cause.event_id if cause else None,
                               origin="agent", runtime="custom", agent=by, payload=payload)

    started = fact("execution.run_started", None, "assistant", agent="assistant", task="book a table")
    asked = fact("execution.message", started, "user", role="user", content="Book a table in Lisbon tonight.")
    call = fact("execution.tool_call", asked, "assistant", name="book_table", arguments={"city": "Lisbon"},
                call_id="c1")
    result = fact("execution.tool_result", call, "assistant", name="book_table", status="error",
                  error="the booking service refused: no tables left", call_id="c1")
    llm = fact("execution.llm_call", result, "assistant", model="scripted", status="error", error="rate limited",
               input_tokens=120, output_tokens=0)
    failed = fact("execution.run_failed", llm, "assistant", status="error", error="gave up after the tool failed")
    return [started, asked, call, result, llm, failed]


def long_run() -> list[Envelope]:
    facts: list[Envelope] = []
    cause = None
    for i in range(LONG_FACTS):
        kind = ("execution.message", "execution.tool_call", "execution.tool_result", "execution.llm_call")[i % 4]
        agent = ("planner", "researcher")[(i // 4) % 2]
        payload = {"role": "assistant", "content": f"step {i}"} if kind == "execution.message" else {
            "name": "search", "arguments": {"q": f"q{i}"}, "status": "ok", "result": f"r{i}", "model": "m"}
        e = Envelope.create(kind, correlation_id=LONG, causation_id=cause, origin="agent", runtime="custom",
                            agent=agent, payload=payload)
        cause = e.event_id
        facts.append(e)
    return facts


def conversation_runs() -> list[Envelope]:
    facts = []
    for k in range(3):
        run = f"conv-run-{k}"
        asked = Envelope.create("execution.message", correlation_id=run, origin="agent", runtime="none", agent="chat",
                                payload={"role": "user", "content": f"question {k}", "conversation_id": CONVERSATION})
        facts += [asked, Envelope.create("execution.message", correlation_id=run, causation_id=asked.event_id,
                                         origin="agent", runtime="none", agent="chat",
                                         payload={"role": "assistant", "content": f"answer {k}",
                                                  "conversation_id": CONVERSATION})]
    return facts


def generated_runs() -> Iterator[list[Envelope]]:
    batch: list[Envelope] = []
    for i in range(GENERATED):
        run = f"gen-{i:05d}"
        word = "zanzibar" if i == 4321 else "lisbon"
        started = Envelope.create("execution.run_started", correlation_id=run, origin="agent", runtime="custom",
                                  agent=f"agent-{i % 7}", service=f"svc-{i % 3}", payload={"task": f"trip {i}"})
        said = Envelope.create("execution.message", correlation_id=run, causation_id=started.event_id,
                               origin="agent", runtime="custom", agent=f"agent-{i % 7}",
                               payload={"role": "assistant", "content": f"Day {i} in {word}."})
        done = Envelope.create("execution.run_completed", correlation_id=run, causation_id=said.event_id,
                               origin="agent", runtime="custom", agent=f"agent-{i % 7}", payload={"status": "ok"})
        batch += [started, said, done]
        if len(batch) >= 3000:
            yield batch
            batch = []
    if batch:
        yield batch


@pytest.fixture(scope="session")
def ui_ledger(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("ui") / "ledger"
    with Ledger.open(path, options=LedgerOptions(seal_interval=3600)) as ledger:
        ledger.append(golden_envelopes())
        ledger.append(failed_run())
        forked = fork(ledger, RUN, 20)
        ledger.append(long_run())
        ledger.append(conversation_runs())
        for batch in generated_runs():
            ledger.append(batch)
    return path, forked


class UiProcess:
    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "chatsnapshot.cli.main", *args, "--listen",
                                      f"127.0.0.1:{self.port}"], stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     env={**os.environ, **(env or {})})
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 120
        self.said: list[str] = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError(f"chatsnapshot ui exited: {''.join(self.said)}")
            self.said.append(line)
            if "open http://" in line:
                break
        time.sleep(0.3)  # uvicorn binds right after that line

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def ui(ui_ledger, tmp_path_factory) -> Iterator[UiProcess]:
    prices = tmp_path_factory.mktemp("prices") / "prices.toml"  # the runs report no cost: the user's table prices them
    prices.write_text('[models."scripted"]\ninput_per_million = 2.5\noutput_per_million = 10.0\n')
    process = UiProcess(["--ledger", str(ui_ledger[0]), "ui"], env={"CHATSNAPSHOT_PRICES": str(prices)})
    yield process
    process.stop()


class Watched:
    """A page whose console errors and requests are kept, to assert on."""

    def __init__(self, browser, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.base = base
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def offsite(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base + "/")]

    def axe(self) -> list[str]:
        """The serious and critical violations axe-core finds on the page as it is now."""
        if not AXE.exists():  # make test installs it (npm ci in tests/js)
            if os.environ.get("CHATSNAPSHOT_REQUIRE_BROWSER") == "1":
                raise AssertionError(f"{AXE} is missing: run make js")
            pytest.skip("axe-core is not installed (make js)")
        self.page.evaluate(AXE.read_text() + "\n;0")  # through DevTools: the page's own CSP allows no inline script
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        return [f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
                for v in result["violations"] if v["impact"] in ("serious", "critical")]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"ui-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser, ui) -> Iterator[Watched]:
    page = Watched(browser, ui.url)
    yield page
    page.close()
    assert page.problems == [], page.problems
    assert page.offsite() == [], page.offsite()
