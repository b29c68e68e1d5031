"""A writer in its own process, for crash and lock tests.

    python -m tests.ledger.writer_process FACTORY LEDGER_DIR MODE [SEED]

FACTORY is ``module:function`` returning an open writable ledger for a path.
MODE ``loop``: append batches forever, printing ``ACK {json}`` for every stored
or duplicate envelope *after* ``append`` returned (so only durable facts are
acknowledged). MODE ``hold``: open, print READY, sleep until killed. MODE
``crash``: append one batch, print its ACKs and leave with os._exit (no close,
no seal) so the facts are only in the WAL.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import time

from tests.helpers import make_facts


def load(factory: str):
    module, _, name = factory.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    factory, path, mode = sys.argv[1:4]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    ledger = load(factory)(path)
    print("READY", os.getpid(), flush=True)
    if mode == "hold":
        time.sleep(3600)
    rnd = random.Random(seed)
    n = 0
    while True:
        batch = make_facts(rnd.randint(1, 80), correlations=7, prefix=f"crash{seed % 3}")
        results = ledger.append(batch)
        lines = [
            "ACK " + json.dumps({"id": r.event_id, "seq": r.seq, "corr": e.correlation_id, "status": r.status})
            for r, e in zip(results, batch, strict=True)
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        n += 1
        if mode == "crash":
            os._exit(0)
        time.sleep(rnd.uniform(0, 0.004))  # many small appends: more distinct moments to be killed at


if __name__ == "__main__":
    main()
