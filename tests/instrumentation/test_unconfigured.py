"""record() never fails silently: with no pipeline it says so once, or configures itself."""

from __future__ import annotations

import textwrap

from chatsnapshot.ledger import Ledger
from tests.helpers import python

PROGRAM = textwrap.dedent("""
    import chatsnapshot
    ids = [chatsnapshot.record("system.task_scheduled", correlation_id="lonely") for _ in range(3)]
    print("IDS", *ids)
""")


def test_record_without_a_pipeline_warns_once_and_names_the_fix(tmp_path):
    child = python("-c", PROGRAM, cwd=tmp_path, env={"CHATSNAPSHOT_LEDGER": "", "CHATSNAPSHOT_ENDPOINT": ""})
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert len(out.split()) == 4  # three ids came back all the same
    warnings = [line for line in err.splitlines() if "no pipeline is configured" in line]
    assert len(warnings) == 1, err
    assert "configure(" in warnings[0] and "OTEL_TRACES_EXPORTER=chatsnapshot" in warnings[0]


def test_record_configures_itself_from_chatsnapshot_ledger(tmp_path):
    ledger = tmp_path / "from-env"
    child = python("-c", PROGRAM, cwd=tmp_path, env={"CHATSNAPSHOT_LEDGER": str(ledger), "CHATSNAPSHOT_ENDPOINT": ""})
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and "no pipeline" not in err, err
    ids = out.split()[1:]
    with Ledger.open(ledger, readonly=True) as reader:  # flushed at exit
        assert [e.event_id for e in reader.replay("lonely")] == ids
