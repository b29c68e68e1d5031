"""The causal DAG: exactly one node per fact, edges only between facts, dangling causes marked."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from chatsnapshot.ledger.projections import causal_dag
from tests.ledger.projections.golden_run import golden_envelopes


def test_one_node_per_fact_edges_only_between_facts_and_dangling_causes_marked():
    facts = [replace(e, seq=i + 1) for i, e in enumerate(golden_envelopes())]  # seq as the ledger numbers them
    dag = causal_dag(facts)
    ids = [e.event_id for e in facts]
    assert [n.event_id for n in dag.nodes] == ids
    assert dag.edges == [(e.causation_id, e.event_id) for e in facts if e.causation_id in ids]
    assert all(a in ids and b in ids for a, b in dag.edges)
    assert len(dag.edges) == sum(e.causation_id is not None for e in facts) - 1  # all but the dangling one
    [dangling] = dag.dangling
    assert dangling.event_type == "system.note" and dangling.dangling_cause == "01a20fcb-0000-7000-8000-00000000dead"

    as_json = json.loads(dag.to_json())
    assert len(as_json["nodes"]) == len(facts) and len(as_json["edges"]) == len(dag.edges)
    assert [n for n in as_json["nodes"] if "dangling_cause" in n] == [
        {**as_json["nodes"][-1], "dangling_cause": dangling.dangling_cause}]

    dot = dag.to_dot()
    assert len(re.findall(r"^    n\d+ \[", dot, re.M)) == len(facts)
    assert len(re.findall(r"^  n\d+ -> n\d+;$", dot, re.M)) == len(dag.edges)
    assert f"cause not in this run: {dangling.dangling_cause}" in dot

    mermaid = dag.to_mermaid()
    assert len(re.findall(r'^  n\d+\["', mermaid, re.M)) == len(facts)
    assert len(re.findall(r"^  n\d+ --> n\d+$", mermaid, re.M)) == len(dag.edges)
    assert f"class n{len(facts)} dangling" in mermaid


def test_an_empty_replay_is_an_empty_dag():
    dag = causal_dag([])
    assert dag.nodes == [] and dag.edges == [] and json.loads(dag.to_json())["nodes"] == []
