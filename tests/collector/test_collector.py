"""Behind a real OpenTelemetry Collector (v0.165.0, built from its own modules), configured by
deploy/collector.yaml exactly as deployed: the Collector's own ``validate`` accepts the file,
and apps exporting with the official Python and JS SDKs lose nothing while the receiver is
SIGKILLed mid-stream, or the Collector is. Every fact an app exported is in the ledger exactly
once and the chains verify (re-deliveries, when a kill fell between a commit and its answer, are
refused as duplicates: the test prints how many)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatsnapshot.ledger import Ledger
from chatsnapshot.receiver.client import LedgerClient
from tests.helpers import ROOT, free_port

CONFIG = ROOT / "deploy" / "collector.yaml"
JS = ROOT / "tests" / "js"
TOKEN = "collector-test-token"


def wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Hop:
    """An app -> Collector -> ``chatsnapshot serve`` hop on loopback, each part its own process."""

    otelcol: Path
    work: Path
    receiver_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    collector_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    receiver: subprocess.Popen | None = None
    collector: subprocess.Popen | None = None
    duplicates: int = 0  # refused re-deliveries, summed over the receiver's lives

    def __post_init__(self) -> None:
        (self.work / "token").write_text(TOKEN + "\n")

    @property
    def ledger(self) -> Path:
        return self.work / "ledger"

    def start_receiver(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(self.ledger), "serve",
             "--grpc", f"127.0.0.1:{self.receiver_port}", "--http", f"127.0.0.1:{self.metrics_port}",
             "--token-file", str(self.work / "token")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.receiver.stdout is not None
        line = self.receiver.stdout.readline()
        assert "receiving OTLP" in line, line

    def kill_receiver(self) -> None:
        assert self.receiver is not None
        self.duplicates += self._duplicates()
        self.receiver.send_signal(signal.SIGKILL)
        self.receiver.wait()

    def _duplicates(self) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            text = urllib.request.urlopen(request, timeout=5).read().decode()
        except OSError:
            return 0
        return sum(int(float(line.split()[-1])) for line in text.splitlines()
                   if line.startswith("chatsnapshot_duplicates_total"))

    def start_collector(self) -> None:
        env = {**os.environ, "OTELCOL_GRPC": f"127.0.0.1:{self.collector_port}",
               "OTELCOL_HTTP": f"127.0.0.1:{free_port()}",
               "OTELCOL_HEALTH": f"127.0.0.1:{self.health_port}", "OTELCOL_QUEUE_DIR": str(self.work / "queue"),
               "CHATSNAPSHOT_RECEIVER": f"127.0.0.1:{self.receiver_port}",
               "CHATSNAPSHOT_TOKEN": TOKEN}
        log = (self.work / "collector.log").open("a")
        self.collector = subprocess.Popen([str(self.otelcol), "--config", str(CONFIG)], env=env,
                                          stdout=log, stderr=log)
        url = f"http://127.0.0.1:{self.health_port}/"
        wait_for(lambda: urllib.request.urlopen(url, timeout=1).status == 200, "the Collector's health check")

    def kill_collector(self) -> None:
        assert self.collector is not None
        self.collector.send_signal(signal.SIGKILL)
        self.collector.wait()

    def app(self, kind: str, prefix: str, runs: int, facts: int, seconds: float) -> subprocess.Popen:
        endpoint = f"127.0.0.1:{self.collector_port}"
        if kind == "js":
            command = ["node", str(JS / "stream_facts.js"), f"http://{endpoint}"]
        else:
            command = [sys.executable, str(ROOT / "tests" / "collector" / "app.py"), endpoint]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OTEL_SDK_DISABLED": "false"}
        return subprocess.Popen([*command, prefix, str(runs), str(facts), str(seconds)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def wait_stored(self, expected: set[str], timeout: float = 90.0) -> None:
        """Until the receiver has committed every expected fact (its Tail stream, from the start)."""
        seen: set[str] = set()
        done = threading.Event()

        def follow() -> None:
            with LedgerClient(f"127.0.0.1:{self.receiver_port}", token=TOKEN) as client:
                for envelope in client.tail(after_position=0):
                    seen.add(envelope.event_id)
                    if expected <= seen:
                        done.set()
                        return

        threading.Thread(target=follow, daemon=True).start()
        assert done.wait(timeout), f"{len(expected - seen)} of {len(expected)} facts never arrived"

    def stop(self) -> None:
        for proc in (self.collector, self.receiver):
            if proc is not None and proc.poll() is None:
                if proc is self.receiver:
                    self.duplicates += self._duplicates()
                proc.terminate()
                proc.wait(timeout=60)


def finish(proc: subprocess.Popen) -> dict[str, list[str]]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def check_exactly_once(ledger_dir: Path, sent: list[str]) -> None:
    with Ledger.open(ledger_dir, readonly=True) as ledger:
        rows = ledger.sql("SELECT event_id::VARCHAR AS id, count(*) AS n FROM envelopes GROUP BY 1").to_pylist()
    counts = {row["id"]: row["n"] for row in rows}
    assert len(sent) == len(set(sent))
    assert [i for i in sent if counts.get(i) != 1] == []  # every fact, exactly once
    assert set(counts) == set(sent)                        # and nothing else
    verify = subprocess.run([sys.executable, "-m", "chatsnapshot.cli.main", "--ledger", str(ledger_dir), "verify"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert verify.returncode == 0, verify.stdout + verify.stderr


def js_available() -> bool:
    return shutil.which("node") is not None and (JS / "node_modules" / ".installed").exists()


@pytest.fixture
def hop(otelcol: Path, tmp_path: Path):
    h = Hop(otelcol, tmp_path)
    yield h
    h.stop()


def test_the_collector_validates_the_deployed_config_and_refuses_a_broken_one(otelcol, tmp_path):
    ok = subprocess.run([str(otelcol), "validate", "--config", str(CONFIG)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # The validation is real: the combination the old file had is refused, with the Collector's reason.
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG.read_text().replace("wait_for_result: false", "wait_for_result: true"))
    refused = subprocess.run([str(otelcol), "validate", "--config", str(broken)], capture_output=True, text=True)
    assert refused.returncode != 0
    assert "wait_for_result" in refused.stderr and "persistent queue" in refused.stderr


def test_sigkilled_receivers_lose_nothing_the_apps_exported(hop):
    hop.start_receiver()
    hop.start_collector()
    apps = {"python": hop.app("python", "py-run", 10, 500, 8.0)}
    if js_available():
        apps["js"] = hop.app("js", "js-run", 10, 500, 8.0)
    elif os.environ.get("CI") == "true":
        pytest.fail("the JS SDK app must run in CI: tests/js/node_modules is missing")
    kills = 0
    for _ in range(3):  # mid-stream: the apps keep sending, the Collector queues and retries
        time.sleep(1.5)
        hop.kill_receiver()
        kills += 1
        time.sleep(0.5)
        hop.start_receiver()
    results = {name: finish(proc) for name, proc in apps.items()}
    sent = [i for r in results.values() for i in r["sent"]]
    for name, r in results.items():  # the Collector stayed up: every export was answered OK
        assert sorted(r["acked"]) == sorted(r["sent"]), name
    hop.wait_stored(set(sent))
    hop.stop()
    check_exactly_once(hop.ledger, sent)
    print(f"\nbehind the Collector: {len(sent)} facts sent by {', '.join(results)}, {len(sent)} stored once, "
          f"{hop.duplicates} re-deliveries refused as duplicates, receiver SIGKILLed {kills} times")


def test_a_sigkilled_collector_resends_what_it_had_accepted(hop):
    hop.start_receiver()
    hop.start_collector()
    app = hop.app("python", "restart-run", 10, 200, 8.0)
    for _ in range(2):
        time.sleep(2.0)
        hop.kill_collector()  # what it accepted is in its fsync'd queue, or the SDK retries it
        time.sleep(0.3)
        hop.start_collector()
    result = finish(app)
    assert sorted(result["acked"]) == sorted(result["sent"])  # the SDK's retries covered the restarts
    hop.wait_stored(set(result["sent"]))
    hop.stop()
    check_exactly_once(hop.ledger, result["sent"])
