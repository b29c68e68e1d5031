// The causal DAG's drawing: a layered layout whose boxes fit their labels, and the folding of a
// long run's facts into turns.
import { h, svg } from "/static/dom.js";

export function layoutDag(nodes, edges, open, label) {
  // Layered: a node's column is one more than its deepest cause's; rows in id order within a column.
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const causes = new Map();
  for (const [from, to] of edges) if (byId.has(from) && byId.has(to)) (causes.get(to) || causes.set(to, []).get(to)).push(from);
  const depth = new Map();
  for (const n of nodes) depth.set(n.id, Math.max(-1, ...(causes.get(n.id) || []).map((c) => depth.get(c) ?? -1)) + 1);
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.id)] ||= []).push(n);
  const charW = 7.4, nodeH = 24, gapY = 10, gapX = 46, pad = 12;
  let x = pad; const pos = new Map();
  let height = 0;
  for (const col of columns) {
    if (!col) continue;
    const w = Math.max(...col.map((n) => n.label.length * charW + 18));
    col.forEach((n, i) => { pos.set(n.id, { x, y: pad + i * (nodeH + gapY), w }); });
    height = Math.max(height, pad + col.length * (nodeH + gapY));
    x += w + gapX;
  }
  const root = svg("svg", { width: x + pad, height: height + pad, role: "group", "aria-label": label });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#57606a" }))));
  for (const [from, to] of edges) {
    const a = pos.get(from), b = pos.get(to); if (!a || !b) continue;
    const x1 = a.x + a.w, y1 = a.y + nodeH / 2, x2 = b.x, y2 = b.y + nodeH / 2, mid = (x1 + x2) / 2;
    root.append(svg("path", { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, fill: "none", stroke: "#8c959f", "marker-end": "url(#arrow)" }));
  }
  const css = getComputedStyle(document.documentElement);
  for (const n of nodes) {
    const p = pos.get(n.id); const bad = n.status === "error";
    const stroke = css.getPropertyValue(bad ? "--error" : `--${n.kind}`).trim() || "#555";
    const g = svg("g", { class: "dag-node", tabindex: 0, role: "button", "data-seq": n.seq ?? null, "aria-label": n.aria,
      transform: `translate(${p.x},${p.y})`, onclick: () => open(n), onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(n); } } },
    svg("rect", { width: p.w, height: nodeH, rx: 5, fill: bad ? "#fdecec" : "#fff", stroke, "stroke-width": bad ? 2.5 : 1.5, "stroke-dasharray": n.dangling ? "4 3" : null }),
    svg("text", { x: 9, y: 16, fill: bad ? "#b91c1c" : "#1f2328" }, n.label));
    root.append(g);
  }
  return h("div", { class: "dag-wrap", tabindex: 0, role: "region", "aria-label": label }, root);
}

export function factNode(f) {
  const label = `#${f.seq} ${f.type.replace(/^execution\./, "")} ${f.agent}`;
  return { id: f.seq, seq: f.seq, label, kind: f.kind, status: f.status, dangling: f.dangling,
    aria: `${label}${f.status === "error" ? ", failed" : ""}` }; // the visible label first (WCAG 2.5.3)
}

export function turnGroups(facts) {
  const groups = [];
  for (const f of facts) {
    if (!groups.length || f.kind === "message" || f.type === "execution.run_started" || f.type === "execution.turn_started") groups.push({ index: groups.length, facts: [] });
    groups[groups.length - 1].facts.push(f);
  }
  return groups;
}

export function groupNode(g) {
  const first = g.facts[0], errors = g.facts.filter((f) => f.status === "error").length;
  const label = `turn ${g.index + 1} · ${first.agent} · ${g.facts.length} facts${errors ? ` · ✕ ${errors}` : ""}`;
  return { id: `g${g.index}`, index: g.index, label, kind: first.kind, status: errors ? "error" : null,
    aria: `${label}${errors ? " failed" : ""}, open` };
}

export function groupEdges(groups) {
  const of = new Map(); groups.forEach((g) => g.facts.forEach((f) => of.set(f.seq, g.index)));
  const edges = new Set();
  for (const g of groups) for (const f of g.facts) { const c = of.get(f.cause); if (c !== undefined && c !== g.index) edges.add(`g${c}|g${g.index}`); }
  return [...edges].map((e) => e.split("|"));
}
