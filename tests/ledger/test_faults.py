"""A store fault (the kernel refusing a write) is answered, never swallowed, never fatal.

The fault is real: a child process lowers RLIMIT_FSIZE so that the kernel
refuses any write past a size (EFBIG, as a full disk refuses with ENOSPC), then
raises the limit again. Nothing in the failed call may be acknowledged, and
the ledger must carry on afterwards.
"""

from __future__ import annotations

import json
import textwrap

from chatsnapshot.ledger import Ledger
from tests.helpers import python

CHILD = textwrap.dedent("""
    import json, resource, signal, sys
    from chatsnapshot.ledger import Ledger, LedgerOptions, StoreUnavailableError
    from tests.helpers import make_facts

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    ledger = Ledger.open(sys.argv[1], options=LedgerOptions(seal_interval=3600))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    wal = ledger._engine._parts.writer.wal  # the test needs to know how far the WAL has grown
    resource.setrlimit(resource.RLIMIT_FSIZE, (wal.size + 200_000, hard))
    failed = None
    for i in range(200):
        batch = make_facts(100, correlations=4, prefix="fault", words=30)
        try:
            results = ledger.append(batch)
        except StoreUnavailableError as e:
            failed = batch
            print("UNAVAILABLE " + json.dumps([str(e), [f.event_id for f in batch]]), flush=True)
            break
        print("ACK " + json.dumps([r.event_id for r in results]), flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    results = ledger.append(failed)  # the same facts again, now that the disk has room
    print("RETRIED " + json.dumps([r.status for r in results]), flush=True)
    ledger.close()
""")


def test_refused_write_acknowledges_nothing_and_the_ledger_carries_on(tmp_path):
    child = python("-c", CHILD, str(tmp_path))
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    lines = out.splitlines()
    acked = [i for line in lines if line.startswith("ACK ") for i in json.loads(line[4:])]
    (unavailable,) = [json.loads(line[12:]) for line in lines if line.startswith("UNAVAILABLE ")]
    message, refused_ids = unavailable
    assert "nothing was acknowledged" in message
    (retried,) = [json.loads(line[8:]) for line in lines if line.startswith("RETRIED ")]
    assert retried == ["stored"] * len(refused_ids)  # the refused facts were not half-stored
    assert acked, "the limit left no room for a single batch: the test proves nothing"
    with Ledger.open(tmp_path) as ledger:
        chains = {r.correlation_id: list(ledger.replay(r.correlation_id)) for r in ledger.runs()}
        stored = [e.event_id for chain in chains.values() for e in chain]
        assert sorted(stored) == sorted(acked + refused_ids)
        for chain in chains.values():
            assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
        assert ledger.verify().ok


def test_an_all_duplicate_batch_leaves_the_sealer_idle(tmp_path, facts):
    """A batch that stores nothing must not make the background sealer spin."""
    import resource
    import time

    from chatsnapshot.ledger import LedgerOptions

    batch = facts(50)
    with Ledger.open(tmp_path, options=LedgerOptions(seal_interval=0.05)) as ledger:
        ledger.append(batch)
        ledger.seal()
        ledger.append(batch)  # all duplicates, on an empty live buffer
        before = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(0.6)
        after = resource.getrusage(resource.RUSAGE_SELF)
    busy = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert busy < 0.3, f"the process burnt {busy:.2f}s of CPU in 0.6s while idle"
