"""``chatsnapshot view``: one run as a single self-contained HTML page.

The page needs nothing but itself (no network, no external script, font or style): inline
CSS, hand-written JavaScript of a few lines, and plain SVG laid out here, in Python, so that
the same run always gives the same bytes. It shows:

- the timeline: one lane per agent, a dot per fact, bars for the operations (run, turn,
  tool, human wait, LLM call); time runs left to right, stretched where facts are closer
  than a dot, so that every fact can be clicked;
- the causal DAG: one node per fact (row = seq, column = lane), an arrow per causation,
  a dangling cause drawn as a dashed red outline with the missing id;
- a panel with the clicked fact's envelope (payload included) as JSON.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from chatsnapshot.ledger.codec import envelope_to_json
from chatsnapshot.ledger.envelope import Envelope
from chatsnapshot.ledger.projections._facts import dumps, short_type
from chatsnapshot.ledger.projections.dag import CausalDag, causal_dag
from chatsnapshot.ledger.projections.metrics import metrics
from chatsnapshot.ledger.projections.timeline import Timeline, timeline

__all__ = ["run_page"]

_LANE_H, _DOT_GAP, _LEFT, _TIME_W = 34, 14, 130, 900
_ROW_H, _COL_W, _NODE_W, _NODE_H = 30, 190, 170, 22
_COLOURS = {"message": "#0969da", "tool_call": "#8250df", "tool_result": "#8250df", "llm_call": "#1a7f37",
            "usage": "#1a7f37", "human_input_requested": "#bf8700", "human_input_received": "#bf8700",
            "handoff": "#cf222e", "alert": "#cf222e", "run_failed": "#cf222e", "termination": "#57606a"}


def run_page(envelopes: Iterable[Envelope]) -> str:
    """The HTML page of one run's envelopes (in seq order)."""
    facts = list(envelopes)
    line, dag, numbers = timeline(facts), causal_dag(facts), metrics(facts).summary()
    data = {e.event_id: envelope_to_json(e) for e in facts}
    title = f"Run {facts[0].correlation_id}" if facts else "Empty run"
    summary = (f"{numbers['facts']} facts · {numbers['status']} · wall {numbers['wall_ms']:.3f} ms · "
               f"{numbers['tool_calls']} tool calls ({numbers['tool_failures']} failed) · "
               f"{numbers['llm_calls']} LLM calls · {numbers['total_tokens']} tokens · "
               f"{len(dag.dangling)} dangling causes")
    return _PAGE.format(title=html.escape(title), summary=html.escape(summary), timeline=_timeline_svg(line),
                        dag=_dag_svg(dag), data=dumps(data).replace("<", "\\u003c"), script=_SCRIPT, style=_STYLE)


def _colour(event_type: str) -> str:
    return _COLOURS.get(short_type(event_type), "#57606a")


def _xs(line: Timeline) -> list[float]:
    """Each mark's x: its time on the axis, pushed right to keep a dot's width from the last."""
    span = max(line.end_ns, 1)
    xs: list[float] = []
    for mark in line.marks:
        x = _LEFT + mark.at_ns / span * _TIME_W
        xs.append(round(max(x, xs[-1] + _DOT_GAP) if xs else x, 1))
    return xs


def _timeline_svg(line: Timeline) -> str:
    xs = _xs(line)
    width = int(max(xs, default=_LEFT) + 40)
    lane_y = {lane: 20 + i * _LANE_H for i, lane in enumerate(line.lanes)}
    x_of_seq = {m.seq: x for m, x in zip(line.marks, xs, strict=True)}
    out = [f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{len(line.lanes) * _LANE_H + 30}" role="img" aria-label="timeline">']
    for lane, y in lane_y.items():
        out.append(f'<text class="lane" x="8" y="{y + 4}">{html.escape(lane[:18])}</text>'
                   f'<line class="lane-line" x1="{_LEFT - 6}" y1="{y}" x2="{width - 10}" y2="{y}"/>')
    for op in line.operations:
        x1 = x_of_seq.get(op.start_seq, _LEFT)
        x2 = x_of_seq.get(op.end_seq, x1) if op.end_seq is not None else width - 10
        tip = f"{op.kind} {op.name}: " + ("open" if op.duration_ns is None else f"{op.duration_ns / 1e6:.3f} ms")
        out.append(f'<rect class="op op-{op.kind}" x="{x1}" y="{lane_y[op.lane] - 9}" width="{max(x2 - x1, 2)}" '
                   f'height="18" rx="4"><title>{html.escape(tip)}</title></rect>')
    for mark, x in zip(line.marks, xs, strict=True):
        out.append(f'<circle class="mark" data-id="{mark.event_id}" cx="{x}" cy="{lane_y[mark.lane]}" r="5" '
                   f'fill="{_colour(mark.event_type)}"><title>#{mark.seq} {html.escape(short_type(mark.event_type))}'
                   f' +{mark.at_ns / 1e6:.3f} ms</title></circle>')
    out.append("</svg>")
    return "\n".join(out)


def _dag_svg(dag: CausalDag) -> str:
    lanes = list(dict.fromkeys(n.lane for n in dag.nodes))
    pos = {n.event_id: (20 + lanes.index(n.lane) * _COL_W, 40 + i * _ROW_H) for i, n in enumerate(dag.nodes)}
    width, height = 40 + len(lanes) * _COL_W, 60 + len(dag.nodes) * _ROW_H
    out = [f'<svg id="dag" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="causal DAG"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
           f'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
           f'fill="#8c959f"/></marker></defs>']
    out += [f'<text class="lane" x="{20 + i * _COL_W}" y="20">{html.escape(lane[:24])}</text>'
            for i, lane in enumerate(lanes)]
    for cause, effect in dag.edges:
        (x1, y1), (x2, y2) = pos[cause], pos[effect]
        sx, sy, ex, ey = x1 + _NODE_W / 2, y1 + _NODE_H, x2 + _NODE_W / 2, y2
        bend = (ey - sy) / 2
        out.append(f'<path class="edge" d="M{sx},{sy} C{sx},{sy + bend} {ex},{ey - bend} {ex},{ey}" '
                   f'marker-end="url(#arrow)"/>')
    for n in dag.nodes:
        x, y = pos[n.event_id]
        dangling = n.dangling_cause is not None
        tip = f"#{n.seq} {n.event_type} ({n.lane})" + (f"; cause not in this run: {n.dangling_cause}"
                                                         if dangling else "")
        out.append(f'<g class="node{" dangling" if dangling else ""}" data-id="{n.event_id}" '
                   f'transform="translate({x},{y})"><title>{html.escape(tip)}</title>'
                   f'<rect width="{_NODE_W}" height="{_NODE_H}" rx="5" style="stroke:{_colour(n.event_type)}"/>'
                   f'<text x="6" y="15">{html.escape(f"{n.seq}. {n.label}"[:28])}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


_STYLE = """
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1f2328}
header{padding:12px 20px;border-bottom:1px solid #d0d7de}h1{font-size:16px;margin:0 0 4px}
main{display:flex;gap:16px;padding:12px 20px;align-items:flex-start}
.views{flex:1;min-width:0}section{overflow:auto;border:1px solid #d0d7de;border-radius:6px;margin-bottom:14px}
h2{font-size:13px;margin:0;padding:6px 10px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
aside{width:420px;position:sticky;top:12px}
#payload{white-space:pre-wrap;word-break:break-word;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;
background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px;max-height:85vh;overflow:auto;margin:0}
.lane{font-size:11px;fill:#57606a}.lane-line{stroke:#eaeef2}
.op{fill:#ddf4ff;stroke:#54aeff;opacity:.7}.op-turn{fill:#fff8c5;stroke:#d4a72c}.op-tool{fill:#fbefff;stroke:#c297ff}
.op-human{fill:#fff1e5;stroke:#fb8f44}.op-llm{fill:#dafbe1;stroke:#4ac26b}
.mark,.node{cursor:pointer}.mark.selected{stroke:#1f2328;stroke-width:3}
.node rect{fill:#fff;stroke-width:1.5}.node text{font-size:11px}.node.selected rect{fill:#ddf4ff}
.node.dangling rect{stroke:#cf222e!important;stroke-dasharray:4 3}.edge{fill:none;stroke:#8c959f}
"""

_SCRIPT = """
const facts = JSON.parse(document.getElementById("facts").textContent);
function show(id) {
  document.querySelectorAll(".selected").forEach(e => e.classList.remove("selected"));
  document.querySelectorAll('[data-id="' + id + '"]').forEach(e => e.classList.add("selected"));
  document.getElementById("payload").textContent = JSON.stringify(facts[id], null, 2);
}
document.querySelectorAll("[data-id]").forEach(e => e.addEventListener("click", () => show(e.dataset.id)));
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header><h1>{title}</h1><div class="summary">{summary}</div></header>
<main>
<div class="views">
<section><h2>Timeline (lanes per agent)</h2>
{timeline}
</section>
<section><h2>Causal DAG (arrows: cause → effect)</h2>
{dag}
</section>
</div>
<aside><h2>Fact</h2><pre id="payload">Click a fact on the timeline or in the DAG to see its envelope.</pre></aside>
</main>
<script type="application/json" id="facts">{data}</script>
<script>{script}</script>
</body>
</html>
"""
