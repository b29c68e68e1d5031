"""What the AG2 instrumentation tests of both eras read back and check."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from chatsnapshot import Envelope, Ledger

GOLDEN = Path(__file__).parent / "golden"
VOLATILE = {"ag2", "duration_ms", "stream", "call_id", "request_id", "task_id", "tool_call_id", "id",
            "inputs"}  # ids of this run's own facts


def read_runs(path: Path) -> dict[str, list[Envelope]]:
    """Every correlation in the ledger at ``path`` and its facts, in order."""
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.verify().ok
        return {r.correlation_id: list(ledger.replay(r.correlation_id)) for r in ledger.runs()}


def only_run(path: Path) -> list[Envelope]:
    runs = read_runs(path)
    assert len(runs) == 1, f"expected one correlation, got {len(runs)}: {sorted(runs)}"
    return next(iter(runs.values()))


def check_causation(facts: list[Envelope]) -> dict[str, Envelope]:
    """One root (the first fact); every other cause is an earlier fact of the same run."""
    seen: dict[str, Envelope] = {}
    for i, fact in enumerate(facts):
        if i == 0:
            assert fact.causation_id is None, f"the first fact {fact.event_type} should be the root"
        else:
            assert fact.causation_id in seen, f"fact {fact.seq} {fact.event_type} has a cause outside the run"
        seen[fact.event_id] = fact
    return seen


def cause_of(fact: Envelope, by_id: dict[str, Envelope]) -> Envelope:
    return by_id[fact.causation_id]


def shape(fact: Envelope, by_id: dict[str, Envelope]) -> str:
    """A fact as a golden line: type, agent, cause's type, and the payload's stable keys."""
    cause = by_id.get(fact.causation_id) if fact.causation_id else None
    payload = fact.payload
    keys = ",".join(sorted(k for k in payload if k not in VOLATILE))
    detail = next((str(payload[k]) for k in ("role", "name", "kind", "reason", "status", "scope") if k in payload),
                  "")
    return (f"{fact.event_type:<34} {fact.source.agent or '-':<12} <- "
            f"{cause.event_type if cause else '(root)':<34} {detail:<14} [{keys}]")


def check_golden(name: str, lines: list[str]) -> None:
    """Compare with ``golden/NAME``; ``CHATSNAPSHOT_UPDATE_GOLDEN=1`` rewrites it (review the diff by eye)."""
    path = GOLDEN / name
    text = "\n".join(lines) + "\n"
    if os.environ.get("CHATSNAPSHOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with CHATSNAPSHOT_UPDATE_GOLDEN=1 once and review it"
    assert text == path.read_text(), f"facts differ from {path} (CHATSNAPSHOT_UPDATE_GOLDEN=1 to review a change)"


def comparable(fact: Envelope, by_id: dict[str, Envelope]) -> tuple:
    """A fact without what differs between two runs of the same script (ids, times, durations)."""
    payload = {k: v for k, v in fact.payload.items() if k not in VOLATILE}
    cause = by_id.get(fact.causation_id) if fact.causation_id else None
    return fact.event_type, fact.source.agent, cause.event_type if cause else None, repr(sorted(payload.items()))


@contextlib.contextmanager
def configured(through: str, tmp_path: Path) -> Iterator[str | None]:
    """``configure()`` into an embedded ledger (``through="embedded"``: yields None) or through a real
    receiver on loopback (``"receiver"``: yields its gRPC address); uninstalled afterwards."""
    import chatsnapshot
    from chatsnapshot.instrumentation.configuration import _install
    from tests.receiver.conftest import start_receiver

    receiver = start_receiver(tmp_path / "served") if through == "receiver" else None
    try:
        if receiver is None:
            chatsnapshot.configure(ledger=tmp_path / "ledger")
            yield None
        else:
            chatsnapshot.configure(endpoint=f"127.0.0.1:{receiver.grpc_port}", spool_dir=tmp_path / "spool")
            yield f"127.0.0.1:{receiver.grpc_port}"
    finally:
        _install(None)
        if receiver is not None:
            receiver.stop(grace=2)


def acknowledge_then_wait(correlation: str, count: int) -> None:
    """A recorder process's end (ag2_recorder, autogen_recorder): commit what it recorded, say
    ``DONE <correlation> <count>`` once it is acknowledged, and keep the ledger open (its writer
    alive) until stdin closes."""
    import sys

    from chatsnapshot.instrumentation.configuration import current_pipeline

    pipeline = current_pipeline()
    assert pipeline is not None and pipeline.force_flush()  # committed: what this process acknowledges
    print(f"DONE {correlation} {count}", flush=True)
    sys.stdin.read()
