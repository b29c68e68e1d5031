"""Test helpers: building facts, running a writer in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from chatsnapshot.ledger import Envelope

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "agent", "tool", "call", "result", "user", "weather", "Paris", "London", "summary", "plan", "step", "retry",
    "answer", "model", "token", "context", "message", "reply", "handoff", "human", "input", "approve", "reject",
)


def make_facts(n: int, correlations: int = 3, *, prefix: str = "run", words: int = 12,
               event_type: str = "execution.message") -> list[Envelope]:
    """``n`` new facts spread round-robin over ``correlations`` correlation ids."""
    out = []
    for i in range(n):
        text = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(words))
        out.append(Envelope.create(
            event_type, correlation_id=f"{prefix}-{i % correlations}",
            payload={"i": i, "text": text}, origin="agent", runtime="custom", agent=f"agent-{i % 2}",
        ))
    return out


def page_data(html: str) -> dict:
    """What an exported run page (``chatsnapshot view``) carries: its run document and envelopes."""
    import json

    return json.loads(html.split('<script type="application/json" id="run-data">')[1].split("</script>")[0])


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """Start ``python args...`` with the project importable, stdout piped; ``env`` adds variables."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **kw)


class LineCollector:
    """Reads a child's stdout lines in a thread; complete lines only."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.endswith("\n"):
                break  # cut by the kill: not a complete acknowledgement
            if line.startswith("READY"):
                self.ready.set()
            self.lines.append(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(timeout=10)

    def acks(self) -> list[dict]:
        return [json.loads(line[4:]) for line in self.lines if line.startswith("ACK ")]
