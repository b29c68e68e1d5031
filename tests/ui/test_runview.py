"""The run document the page draws (``ui.runview``): times on one axis, every failure marked, per-call
and per-agent numbers that add up to the run's."""

from __future__ import annotations

from chatsnapshot.ledger import Ledger
from chatsnapshot.ui.runview import LEGEND, kind_of, run_document
from tests.ledger.projections.golden_run import golden_envelopes
from tests.ui.conftest import failed_run


def replayed(tmp_path, envelopes):
    with Ledger.open(tmp_path / "ledger") as ledger:
        ledger.append(envelopes)
        return list(ledger.replay(envelopes[0].correlation_id))


def test_the_timeline_and_the_facts_share_one_axis(tmp_path):
    doc = run_document(replayed(tmp_path, golden_envelopes()), [])
    end = doc["timeline"]["end_ms"]
    assert end == max(f["t_ms"] for f in doc["facts"]) > 100  # the golden run lasts ~280 ms
    assert doc["timeline"]["operations"]
    for o in doc["timeline"]["operations"]:
        assert 0 <= o["start_ms"] <= (o["end_ms"] if o["end_ms"] is not None else end) <= end


def test_every_failure_is_an_error_whatever_its_kind(tmp_path):
    facts = replayed(tmp_path, failed_run())
    doc = run_document(facts, [])
    assert [(f["type"], f["status"]) for f in doc["facts"] if f["status"] == "error"] == [
        ("execution.tool_result", "error"), ("execution.llm_call", "error"), ("execution.run_failed", "error")]
    assert {kind_of(f)[0] for f in facts} <= set(LEGEND)
    assert [c["status"] for c in doc["llm_calls"]] == ["error"]


def test_per_agent_tokens_add_up_to_the_run(tmp_path):
    doc = run_document(replayed(tmp_path, golden_envelopes()), [])
    llm = doc["run"]["llm"]
    assert sum(a["prompt_tokens"] for a in doc["agents"]) == llm["prompt_tokens"] > 0
    assert sum(a["completion_tokens"] for a in doc["agents"]) == llm["completion_tokens"] > 0
    assert len(doc["llm_calls"]) == llm["calls"]
    causes = {f["seq"]: f["cause"] for f in doc["facts"]}
    for f in doc["facts"]:
        for effect in f["effects"]:
            assert causes[effect] == f["seq"]  # effects are the inverse of causes
