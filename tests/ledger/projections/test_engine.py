"""The projection engine: incremental updates from a checkpoint equal a full rebuild, whatever
the interleaving of appends, updates and restarts; a new version rebuilds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatsnapshot.ledger import Ledger
from chatsnapshot.ledger.projections import ProjectionEngine, RunMetricsProjection, metrics
from tests.helpers import make_facts
from tests.ledger.projections.facts import runs

STEPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.sampled_from(["run-a", "run-b", "run-c"]), st.integers(1, 12)),
    st.tuples(st.just("update")),
    st.tuples(st.just("seal")),
    st.tuples(st.just("restart")),
), min_size=1, max_size=14)


def rebuilt(ledger: Ledger) -> dict[str, dict]:
    """Every run's metrics folded from a full replay: the answer without the engine."""
    return {r.correlation_id: metrics(ledger.replay(r.correlation_id)).to_state() for r in ledger.runs()}


def incremental(ledger: Ledger) -> tuple[dict[str, dict], ProjectionEngine]:
    engine = ProjectionEngine(ledger, RunMetricsProjection(), batch=7)  # small batches: many checkpoint steps
    return {c: m.to_state() for c, m in engine.update().items()}, engine


@settings(max_examples=40, deadline=None)
@given(steps=STEPS, data=st.data())
def test_incremental_updates_equal_a_full_rebuild_after_any_interleaving(steps, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger"
        ledger = Ledger.open(path)
        try:
            for step in steps:
                if step[0] == "append":
                    facts = data.draw(runs(run=step[1], max_size=step[2]))
                    ledger.append(facts)
                elif step[0] == "seal":
                    ledger.seal()
                elif step[0] == "restart":  # the process ends; the checkpoint stays with the ledger
                    ledger.close()
                    ledger = Ledger.open(path)
                else:
                    state, _ = incremental(ledger)
                    assert state == rebuilt(ledger)
            state, _ = incremental(ledger)
            assert state == rebuilt(ledger)
        finally:
            ledger.close()


class Counting(RunMetricsProjection):
    applied = 0

    def apply(self, state, envelope):
        Counting.applied += 1
        return super().apply(state, envelope)


def test_a_checkpoint_is_a_position_and_only_newer_envelopes_are_read(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(make_facts(20, correlations=2))
        _, engine = incremental(ledger)
        doc = json.loads(engine.path.read_text())
        assert engine.path == tmp_path / "ledger" / "projections" / "run_metrics.json"
        assert doc["position"] == ledger.last_position == 20 and doc["version"] == RunMetricsProjection.version
        ledger.append(make_facts(5, correlations=1, prefix="later"))
        seen: list[int] = []
        Counting.applied = 0
        state = ProjectionEngine(ledger, Counting()).update(lambda position, last: seen.append(position))
        assert Counting.applied == 5 and seen == [25]
        assert {c: m.to_state() for c, m in state.items()} == rebuilt(ledger)


class RunMetricsV2(RunMetricsProjection):
    version = 2


def test_a_new_version_or_a_checkpoint_ahead_of_the_ledger_rebuilds(tmp_path):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(make_facts(10, correlations=2))
        _, engine = incremental(ledger)
        assert engine.rebuilt
        _, engine = incremental(ledger)
        assert not engine.rebuilt
        v2 = ProjectionEngine(ledger, RunMetricsV2())
        v2.update()
        assert v2.rebuilt and json.loads(v2.path.read_text())["version"] == 2
        doc = json.loads(engine.path.read_text())
        engine.path.write_text(json.dumps({**doc, "position": ledger.last_position + 100}))
        state, engine = incremental(ledger)
        assert engine.rebuilt and state == rebuilt(ledger)


def test_a_ledger_folder_that_cannot_take_checkpoints_still_gets_the_answer(tmp_path, caplog):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(make_facts(10, correlations=2))
        (tmp_path / "ledger" / "projections").write_text("a file where the checkpoint folder goes")
        state, _ = incremental(ledger)
        assert state == rebuilt(ledger)
    assert "checkpoint not saved" in caplog.text
