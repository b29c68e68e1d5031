"""The causal DAG: one node per fact, one edge per causation between two facts of the run.

A causation that names a fact the run does not hold (recorded in another run, lost, or never
recorded) is not dropped: the node keeps it as ``dangling_cause`` and every format shows it
(JSON: the field; DOT: a dashed red outline and the cause's id; Mermaid: the ``dangling``
class and the id in the label). No edge ever points at a fact that is not a node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from chatsnapshot.ledger.envelope import FORK_TYPE, Envelope
from chatsnapshot.ledger.projections._facts import dumps, lane_of, short_type

__all__ = ["CausalDag", "DagNode", "causal_dag"]


@dataclass(frozen=True)
class DagNode:
    event_id: str
    seq: int
    event_type: str
    lane: str
    label: str
    dangling_cause: str | None = None


@dataclass
class CausalDag:
    correlation_id: str = ""
    nodes: list[DagNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (cause event_id, effect event_id)
    forked_from: dict[str, Any] | None = None  # a forked run's lineage: the run, the seq, that fact's id

    @property
    def dangling(self) -> list[DagNode]:
        return [n for n in self.nodes if n.dangling_cause is not None]

    def to_dict(self) -> dict[str, Any]:
        lineage = {"forked_from": self.forked_from} if self.forked_from is not None else {}
        return {"correlation_id": self.correlation_id, **lineage,
                "nodes": [{k: v for k, v in asdict(n).items() if v is not None} for n in self.nodes],
                "edges": [{"from": a, "to": b} for a, b in self.edges]}

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_dot(self) -> str:
        """Graphviz DOT, nodes named by seq (``n12``), clustered in lanes."""
        seq_of = {n.event_id: n.seq for n in self.nodes}
        out = [f"digraph {_dot_id('run ' + self.correlation_id)} {{", "  rankdir=TB;",
               '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica", fontsize=10];']
        for number, lane in enumerate(dict.fromkeys(n.lane for n in self.nodes)):
            out.append(f"  subgraph cluster_{number} {{ label={_dot_id(lane)}; color=\"#d0d7de\";")
            for n in (n for n in self.nodes if n.lane == lane):
                extra = ""
                if n.dangling_cause is not None:
                    extra = (', style="rounded,dashed", color="#cf222e", xlabel='
                             + _dot_id(f"cause not in this run: {n.dangling_cause}"))
                out.append(f"    n{n.seq} [label={_dot_id(f'#{n.seq} {n.label}')}{extra}];")
            out.append("  }")
        out += [f"  n{seq_of[a]} -> n{seq_of[b]};" for a, b in self.edges]
        out.append("}")
        return "\n".join(out) + "\n"

    def to_mermaid(self) -> str:
        """A Mermaid flowchart, nodes named by seq, dangling ones in class ``dangling``."""
        seq_of = {n.event_id: n.seq for n in self.nodes}
        out = ["flowchart TD"]
        for n in self.nodes:
            label = f"{n.seq}. {n.label}<br/>{n.lane}"
            if n.dangling_cause is not None:
                label += f"<br/>cause not in this run: {n.dangling_cause}"
            out.append(f'  n{n.seq}["{_mermaid_text(label)}"]')
        out += [f"  n{seq_of[a]} --> n{seq_of[b]}" for a, b in self.edges]
        if self.dangling:
            out.append("  classDef dangling stroke:#cf222e,stroke-dasharray:4 3")
            out.append("  class " + ",".join(f"n{n.seq}" for n in self.dangling) + " dangling")
        return "\n".join(out) + "\n"


def causal_dag(envelopes: Iterable[Envelope]) -> CausalDag:
    """The causal DAG of one run's envelopes (in seq order)."""
    facts = list(envelopes)
    present = {e.event_id for e in facts}
    dag = CausalDag(correlation_id=facts[0].correlation_id if facts else "")
    for e in facts:
        cause = e.cause_id or e.causation_id  # resolved on read (ledger.causes)
        dangling = cause if cause is not None and cause not in present else None
        payload = e.payload  # parsed once: lane and label both read it
        if e.event_type == FORK_TYPE and e.seq == 1:
            dag.forked_from = {k: payload.get(k) for k in ("forked_from", "at_seq", "fact_id")}
        dag.nodes.append(DagNode(e.event_id, e.seq or 0, e.event_type, lane_of(e, payload), _label(e, payload),
                                 dangling))
        if cause is not None and dangling is None:
            dag.edges.append((cause, e.event_id))
    return dag


def _label(e: Envelope, payload: dict[str, Any]) -> str:
    if e.event_type == FORK_TYPE:
        return f"{short_type(e.event_type)} from {payload.get('forked_from')} at seq {payload.get('at_seq')}"
    detail = payload.get("name") or payload.get("kind") or payload.get("status") or ""
    return f"{short_type(e.event_type)} {detail}".strip()


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", " ")
