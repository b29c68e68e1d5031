"""The golden run: a real recorded AG2 1.x conversation (the demo's: tool calls, an integration
call, human input, delegation) plus one fact whose cause the ledger never received."""

from __future__ import annotations

import json
from pathlib import Path

from chatsnapshot.ledger import Envelope, Ledger, envelope_from_json

GOLDEN = Path(__file__).parent / "golden"
RUN = "01a20fcb-aba6-7389-b862-428e42e92215"


def golden_envelopes() -> list[Envelope]:
    lines = (GOLDEN / "run.jsonl").read_text().splitlines()
    return [envelope_from_json(json.loads(line)) for line in lines]


def build_golden_ledger(path: Path, segments: int = 3) -> Path:
    """The golden run appended in ``segments`` sealed batches (so that compaction has work)."""
    envelopes = golden_envelopes()
    size = -(-len(envelopes) // segments)
    with Ledger.open(path) as ledger:
        for start in range(0, len(envelopes), size):
            ledger.append(envelopes[start:start + size])
            ledger.seal()
    return path
