// One run: its summary, the conversation, the timeline, the causal DAG, every fact, LLM calls and
// cost, what each model was asked with; a fact opens beside them, its causes and effects as links.
import { api, fmtCost, fmtMs, fmtTime, h, ICON, kindBadge, statusBadge } from "/static/dom.js";
import { factNode, groupEdges, groupNode, layoutDag, turnGroups } from "/static/graph.js";

const ROW = 26; // px per fact in the virtual list
const CHUNK = 200; // conversation groups rendered per step
const FOLD_OVER = 300; // facts above which the DAG is folded by turn

// ``load(path)`` answers the app's API paths: ``api`` in the app; the exported page
// (chatsnapshot view) answers them from the data it carries.
export async function runView(main, wanted, params, listeners, info, load = api) {
  main.append(h("p", { class: "muted" }, "loading the run…"));
  const route = main.dataset.route;
  let doc;
  try { doc = await load(`/api/runs/${encodeURIComponent(wanted)}`); } catch (e) {
    if (main.dataset.route === route) main.replaceChildren(h("h1", {}, "Run"), h("div", { class: "error-box", role: "alert" }, e.message));
    return;
  }
  if (main.dataset.route !== route) return; // the user went elsewhere meanwhile
  const view = new RunView(main, doc, info, params, load);
  listeners.add((event) => view.onLive(event));
}

class RunView {
  constructor(main, doc, info, params, load) {
    this.main = main; this.doc = doc; this.info = info; this.load = load;
    this.id = doc.run.correlation_id;
    this.tab = params.get("tab") || "conversation";
    this.bySeq = new Map(doc.facts.map((f) => [f.seq, f]));
    this.selected = null;
    this.summary = h("section", { "aria-label": "Run summary" });
    this.tabsEl = h("div", { class: "tabs", role: "tablist", "aria-label": "Run views" });
    this.panel = h("section", { id: "run-panel", role: "tabpanel" });
    this.detail = h("aside", { class: "detail", "aria-label": "Selected fact", "aria-live": "polite" },
      h("p", { class: "muted" }, "Select a fact to see its envelope, its cause and its effects."));
    main.replaceChildren(h("h1", { class: "mono" }, `Run ${this.id}`), this.summary, this.tabsEl,
      h("div", { class: "layout" }, this.panel, this.detail));
    this.drawSummary(); this.drawTabs(); this.drawPanel();
    const seq = Number(params.get("seq"));
    if (seq) this.select(seq);
  }

  // -- summary ----------------------------------------------------------------------------------

  drawSummary() {
    const r = this.doc.run; const llm = r.llm;
    const item = (label, ...value) => h("div", {}, h("span", { class: "label" }, label), ...value);
    const link = (id) => h("a", { href: `#/run/${encodeURIComponent(id)}`, class: "mono" }, id);
    const lineage = [];
    if (r.forked_from) lineage.push(item("forked from", link(r.forked_from.forked_from), ` at seq ${r.forked_from.at_seq}`));
    if (r.forks.length) lineage.push(item("forks", ...r.forks.flatMap((f, i) => [i ? ", " : "", link(f)])));
    this.summary.replaceChildren(h("div", { class: "summary" },
      item("status", statusBadge(r.status)), item("started", fmtTime(r.first_occurred_at)),
      item("duration", fmtMs(r.duration_ms)), item("agents", r.agents.join(", ") || "–"),
      item("facts", String(r.facts)),
      item("LLM calls", `${llm.calls}`, llm.failures ? h("span", { class: "errors" }, ` (✕ ${llm.failures} failed)`) : ""),
      item("tokens", `${llm.prompt_tokens} in / ${llm.completion_tokens} out`),
      item("cost", fmtCost(llm.cost, this.doc.row?.cost_estimated)),
      item("tool calls", `${r.tools.calls}`, r.tools.failures ? h("span", { class: "errors" }, ` (✕ ${r.tools.failures} failed)`) : ""),
      item("errors", r.errors.length ? h("span", { class: "errors" }, `✕ ${r.errors.length}`) : "none"),
      item("human input", `${r.human.requests} request(s)`), ...lineage));
  }

  drawTabs() {
    const tabs = [["conversation", "Conversation"], ["timeline", "Timeline"], ["dag", "Causal DAG"], ["facts", "Facts"],
      ["llm", "LLM calls & cost"], ["inputs", "Model inputs"], ["errors", `Errors (${this.doc.run.errors.length})`]];
    this.tabsEl.replaceChildren(...tabs.map(([key, label]) => h("button", { type: "button", role: "tab", id: `tab-${key}`,
      "aria-selected": key === this.tab ? "true" : "false", "aria-controls": "run-panel",
      onclick: () => { this.tab = key; this.drawTabs(); this.drawPanel(); } }, label)));
    this.panel.setAttribute("aria-labelledby", `tab-${this.tab}`);
  }

  drawPanel() {
    const draw = { conversation: () => this.conversation(), timeline: () => this.timeline(), dag: () => this.dag(),
      facts: () => this.factsList(), llm: () => this.llm(), inputs: () => this.inputs(), errors: () => this.errors() };
    this.panel.replaceChildren(...[].concat((draw[this.tab] || draw.conversation)()));
    if (this.selected) this.mark(this.selected);
  }

  // -- selection --------------------------------------------------------------------------------

  seqLink(seq, text) {
    return h("a", { href: `#/run/${encodeURIComponent(this.id)}?tab=${this.tab}&seq=${seq}`, class: "seqlink",
      onclick: (e) => { e.preventDefault(); this.select(seq, true); } }, text || `#${seq}`);
  }

  async select(seq, move = false) {
    const f = this.bySeq.get(seq);
    if (!f) return;
    this.selected = seq;
    if (location.protocol !== "file:") history.replaceState(null, "", `#/run/${encodeURIComponent(this.id)}?tab=${this.tab}&seq=${seq}`);
    this.mark(seq, move);
    const causes = f.cause ? [this.seqLink(f.cause, `#${f.cause} ${this.bySeq.get(f.cause)?.type || ""}`)]
      : [f.dangling ? h("span", { class: "muted" }, `outside this run (${f.cause_id})`) : h("span", { class: "muted" }, "none (a root)")];
    const effects = f.effects.length ? f.effects.flatMap((s, i) => [i ? ", " : "", this.seqLink(s)]) : [h("span", { class: "muted" }, "none")];
    const pre = h("pre", { class: "mono" }, "loading the envelope…");
    this.detail.replaceChildren(h("h2", {}, `Fact #${seq}`), kindBadge(f.kind, f.status),
      h("p", {}, f.says || h("span", { class: "muted" }, "(nothing to summarise)")),
      h("dl", {}, h("dt", {}, "type"), h("dd", { class: "mono" }, f.type), h("dt", {}, "agent"), h("dd", {}, f.agent),
        h("dt", {}, "at"), h("dd", {}, `+${fmtMs(f.t_ms)}`), h("dt", {}, "caused by"), h("dd", {}, ...causes),
        h("dt", {}, "effects"), h("dd", {}, ...effects)), h("h2", {}, "Envelope"), pre);
    try {
      const envelope = await this.load(`/api/runs/${encodeURIComponent(this.id)}/facts/${seq}`);
      if (this.selected === seq) pre.textContent = JSON.stringify(envelope, null, 2);
    } catch (e) { pre.textContent = e.message; }
  }

  mark(seq, move = false) {
    this.panel.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
    if (this.tab === "facts" && this.list) { this.list.select(seq, move); return; }
    if (this.tab === "dag" && this.dagSelect) { this.dagSelect(seq, move); return; }
    const el = this.panel.querySelector(`[data-seq="${seq}"]`);
    if (el) { el.classList.add("selected"); if (move) el.scrollIntoView({ block: "center" }); }
    else if (move && this.tab === "conversation") { this.tab = "facts"; this.drawTabs(); this.drawPanel(); }
  }

  // -- conversation -----------------------------------------------------------------------------

  conversation() {
    const entries = this.doc.conversation;
    if (!entries.length) return h("p", { class: "muted" }, "No conversation in this run (see Facts).");
    const groups = [];
    for (const e of entries) {
      const inner = e.kind === "tool_call" || e.kind === "tool_result";
      const last = groups[groups.length - 1];
      if (inner && last && last.head.agent === e.agent) last.tools.push(e); // folded under the agent's turn
      else groups.push({ head: e, tools: [] });
    }
    const chat = h("div", { class: "chat", role: "log", "aria-label": "Conversation" });
    let shown = 0;
    const more = h("button", { type: "button", onclick: () => step() }, "");
    const step = () => {
      const next = groups.slice(shown, shown + CHUNK);
      chat.append(...next.map((g) => this.bubble(g)));
      shown += next.length;
      more.textContent = `Show ${Math.min(CHUNK, groups.length - shown)} more of ${groups.length - shown}`;
      more.hidden = shown >= groups.length;
    };
    step();
    return [chat, more];
  }

  bubble({ head, tools }) {
    const human = head.kind.startsWith("human_input");
    const right = head.agent === "user" || head.kind === "human_input_received";
    const fact = this.bySeq.get(head.seq);
    const bad = fact?.status === "error" || tools.some((t) => t.status === "error");
    const label = { message: "", human_input_requested: "☺ asks a person", human_input_received: "☺ human input",
      handoff: "⇄ handoff", model_inputs: "☰ model inputs", tool_call: "⚙ tool call", tool_result: "↩ tool result" }[head.kind] ?? head.kind;
    const toolItems = tools.map((t) => {
      const failed = t.status === "error";
      return h("details", { class: failed ? "is-error" : "", "data-seq": t.seq },
        h("summary", {}, `${failed ? "✕" : ICON[t.kind]} ${t.kind === "tool_call" ? "calls" : "result of"} ${t.name || "tool"}`,
          failed ? " (failed)" : ""),
        h("div", { class: "mono text" }, this.seqLink(t.seq), " ", t.text));
    });
    return h("article", { class: `bubble${right ? " right" : ""}${human ? " human" : ""}${bad ? " is-error" : ""}`,
      "data-seq": head.seq, "aria-label": `${head.agent}${label ? ", " + label : ""}, fact ${head.seq}` },
    h("header", {}, h("strong", {}, head.agent), head.to ? `→ ${head.to}` : "", label, this.seqLink(head.seq),
      h("span", {}, fmtTime(head.at))),
    h("div", { class: "text" }, head.kind === "tool_result" && head.status === "error" ? `✕ ${head.text}` : head.text),
    tools.length ? h("div", {}, toolItems) : "");
  }

  // -- timeline ---------------------------------------------------------------------------------

  timeline() {
    const t = this.doc.timeline; const facts = this.doc.facts;
    const lanes = t.lanes.length ? t.lanes : [...new Set(facts.map((f) => f.agent))];
    const gutter = 130, laneH = 34, top = 34;
    let zoom = 1;
    const canvas = h("canvas", { role: "img", "aria-label": `Timeline: ${facts.length} facts in ${lanes.length} lanes over ${fmtMs(t.end_ms)}. The Facts tab lists them for the keyboard.` });
    const wrap = h("div", { class: "timeline-wrap", tabindex: 0, role: "region", "aria-label": "Timeline (scrolls when zoomed)" }, canvas);
    const css = getComputedStyle(document.documentElement);
    const color = (kind, status) => css.getPropertyValue(status === "error" ? "--error" : `--${kind}`).trim() || "#555";
    const width = () => Math.max(600, (wrap.clientWidth || 900) - 2) * zoom;
    const x = (ms, w) => gutter + (t.end_ms ? (ms / t.end_ms) * (w - gutter - 20) : 0);
    const draw = () => {
      const w = width(), hgt = top + lanes.length * laneH + 10, ratio = window.devicePixelRatio || 1;
      canvas.width = w * ratio; canvas.height = hgt * ratio; canvas.style.width = `${w}px`; canvas.style.height = `${hgt}px`;
      const g = canvas.getContext("2d"); g.scale(ratio, ratio);
      g.fillStyle = "#fff"; g.fillRect(0, 0, w, hgt);
      g.font = "12px system-ui, sans-serif"; g.fillStyle = "#1f2328"; g.strokeStyle = "#d0d7de";
      const step = niceStep(t.end_ms / Math.max(2, (w - gutter) / 110));
      for (let ms = 0; ms <= t.end_ms + 1e-9; ms += step) {
        const px = x(ms, w); g.beginPath(); g.moveTo(px, top - 6); g.lineTo(px, hgt - 6); g.stroke();
        g.fillText(fmtMs(ms), px + 2, 14);
      }
      lanes.forEach((lane, i) => { g.fillStyle = i % 2 ? "#f6f8fa" : "#fff"; g.fillRect(gutter, top + i * laneH, w - gutter, laneH);
        g.fillStyle = "#1f2328"; g.fillText(lane.length > 18 ? lane.slice(0, 17) + "…" : lane, 6, top + i * laneH + 21); });
      const laneOf = new Map(lanes.map((l, i) => [l, i]));
      for (const o of t.operations) {
        const i = laneOf.get(o.lane); if (i === undefined) continue;
        const x0 = x(o.start_ms, w), x1 = x(o.end_ms ?? t.end_ms, w);
        g.fillStyle = o.status === "error" ? "#f7c6c6" : { run: "#e2e8f0", turn: "#dbeafe", tool: "#ede9fe", llm: "#cffafe", human: "#fef3c7" }[o.kind] || "#eee";
        const inset = { run: 2, turn: 6, tool: 10, llm: 10, human: 10 }[o.kind] || 8;
        g.fillRect(x0, top + i * laneH + inset, Math.max(2, x1 - x0), laneH - 2 * inset);
      }
      this.hits = [];
      for (const f of facts) {
        const i = laneOf.get(f.agent) ?? 0, px = x(f.t_ms, w), py = top + i * laneH + laneH / 2;
        g.fillStyle = color(f.kind, f.status);
        if (f.status === "error") { g.font = "bold 13px system-ui"; g.fillText("✕", px - 4, py + 5); }
        else { g.beginPath(); g.arc(px, py, 4, 0, Math.PI * 2); g.fill(); }
        if (f.seq === this.selected) { g.strokeStyle = "#0b57d0"; g.lineWidth = 3; g.strokeRect(px - 7, py - 7, 14, 14); g.lineWidth = 1; g.strokeStyle = "#d0d7de"; }
        this.hits.push([px, py, f.seq]);
      }
    };
    canvas.addEventListener("click", (e) => {
      const r = canvas.getBoundingClientRect(), cx = e.clientX - r.left, cy = e.clientY - r.top;
      let best = null, bestD = 81;
      for (const [px, py, seq] of this.hits || []) { const d = (px - cx) ** 2 + (py - cy) ** 2; if (d < bestD) { bestD = d; best = seq; } }
      if (best !== null) { this.select(best); draw(); }
    });
    canvas.addEventListener("wheel", (e) => { if (!e.ctrlKey) return; e.preventDefault(); zoom = Math.min(200, Math.max(1, zoom * (e.deltaY < 0 ? 1.25 : 0.8))); draw(); });
    const zoomBar = h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => { zoom = Math.min(200, zoom * 2); draw(); } }, "Zoom in"),
      h("button", { type: "button", onclick: () => { zoom = Math.max(1, zoom / 2); draw(); } }, "Zoom out"),
      h("button", { type: "button", onclick: () => { zoom = 1; draw(); } }, "Fit"),
      h("span", { class: "muted" }, "Ctrl + wheel zooms; click a mark for its fact."));
    requestAnimationFrame(draw);
    this.redrawTimeline = draw;
    return [zoomBar, wrap, this.legend()];
  }

  legend() {
    const entries = (this.info?.legend || []).filter((l) => l.kind);
    return h("div", { class: "legend", "aria-label": "Legend" }, entries.map((l) => h("span", { title: l.means }, kindBadge(l.kind, null, l.label))),
      h("span", {}, kindBadge("tool_result", "error", "failed (any kind)")));
  }

  // -- causal DAG -------------------------------------------------------------------------------

  dag() {
    const facts = this.doc.facts;
    const holder = h("div", {});
    const groups = turnGroups(facts);
    const folded = facts.length > FOLD_OVER;
    const show = (group) => {
      const nodes = group ? group.facts : folded ? null : facts;
      const bar = h("div", { class: "toolbar" });
      if (nodes === null) {
        bar.append(h("span", { class: "muted" }, `${facts.length} facts folded into ${groups.length} turns: open a turn to see its facts.`));
        holder.replaceChildren(bar, layoutDag(groups.map(groupNode), groupEdges(groups), (n) => show(groups[n.index]), "Causal DAG by turn"), this.legend());
      } else {
        if (group) bar.append(h("button", { type: "button", onclick: () => show(null) }, "← All turns"),
          h("span", { class: "muted" }, `turn ${group.index + 1}: facts #${group.facts[0].seq}–#${group.facts[group.facts.length - 1].seq}`));
        const inside = new Set(nodes.map((f) => f.seq));
        const edges = nodes.filter((f) => f.cause && inside.has(f.cause)).map((f) => [f.cause, f.seq]);
        holder.replaceChildren(bar, layoutDag(nodes.map(factNode), edges, (n) => this.select(n.id), "Causal DAG"), this.legend());
      }
    };
    this.dagSelect = (seq, move) => {
      let node = holder.querySelector(`[data-seq="${seq}"]`);
      if (!node && folded) { const g = groups.find((gr) => gr.facts.some((f) => f.seq === seq)); if (g) { show(g); node = holder.querySelector(`[data-seq="${seq}"]`); } }
      holder.querySelectorAll(".dag-node.selected").forEach((n) => n.classList.remove("selected"));
      if (node) { node.classList.add("selected"); if (move) { node.scrollIntoView({ block: "center", inline: "center" }); node.focus({ preventScroll: true }); } }
    };
    show(null);
    return holder;
  }

  // -- facts (virtual list) ---------------------------------------------------------------------

  factsList() {
    const all = this.doc.facts;
    const filter = h("input", { id: "ffilter", type: "search", placeholder: "type, agent or text", "aria-label": "Filter facts" });
    const count = h("span", { class: "muted", role: "status" });
    const box = h("div", { class: "facts", role: "listbox", tabindex: 0, "aria-label": "Facts of the run" });
    const spacer = h("div", { style: "height:0px" });
    box.append(spacer);
    let shown = all; let active = -1;
    const render = () => {
      const first = Math.max(0, Math.floor(box.scrollTop / ROW) - 10), last = Math.min(shown.length, first + Math.ceil((box.clientHeight || 560) / ROW) + 20);
      spacer.style.height = `${shown.length * ROW}px`;
      box.querySelectorAll(".row").forEach((r) => r.remove());
      for (let i = first; i < last; i++) {
        const f = shown[i];
        box.append(h("div", { class: `row${f.seq === this.selected ? " selected" : ""}`, role: "option", id: `fact-${f.seq}`,
          "aria-selected": f.seq === this.selected ? "true" : "false", style: `top:${i * ROW}px`, "data-seq": f.seq,
          onclick: () => { active = i; this.select(f.seq); } },
        h("span", { class: "mono" }, `#${f.seq}`), h("span", { class: "mono" }, `+${fmtMs(f.t_ms)}`), h("span", {}, f.agent),
        h("span", {}, kindBadge(f.kind, f.status)), h("span", { class: f.status === "error" ? "is-error" : "" }, f.says)));
      }
      if (this.selected) box.setAttribute("aria-activedescendant", `fact-${this.selected}`);
    };
    const apply = () => {
      const q = filter.value.trim().toLowerCase();
      shown = q ? all.filter((f) => f.type.includes(q) || f.agent.toLowerCase().includes(q) || (f.says || "").toLowerCase().includes(q)) : all;
      count.textContent = `${shown.length} of ${all.length} facts`;
      render();
    };
    box.addEventListener("scroll", () => requestAnimationFrame(render));
    box.addEventListener("keydown", (e) => {
      if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
      e.preventDefault();
      active = e.key === "Home" ? 0 : e.key === "End" ? shown.length - 1 : Math.min(shown.length - 1, Math.max(0, active + (e.key === "ArrowDown" ? 1 : -1)));
      if (shown[active]) this.select(shown[active].seq, true);
    });
    filter.addEventListener("input", apply);
    this.list = { select: (seq, move) => { const i = shown.findIndex((f) => f.seq === seq); if (i >= 0) { active = i; if (move) box.scrollTop = Math.max(0, i * ROW - 200); } render(); },
      refresh: () => apply() };
    requestAnimationFrame(apply);
    return [h("div", { class: "toolbar" }, h("label", { for: "ffilter" }, "Filter", filter), count), box];
  }

  // -- LLM calls, model inputs, errors ----------------------------------------------------------

  llm() {
    const calls = this.doc.llm_calls, agents = this.doc.agents;
    const num = (v) => h("td", { class: "num" }, v ?? "–");
    return [h("h2", {}, "Per agent"), agents.length ? h("table", { "aria-label": "Tokens and cost per agent" },
      h("thead", {}, h("tr", {}, ["Agent", "Prompt tokens", "Completion tokens", "Cost"].map((c, i) => h("th", { scope: "col", class: i ? "num" : "" }, c)))),
      h("tbody", {}, agents.map((a) => h("tr", {}, h("td", {}, a.agent), num(a.prompt_tokens), num(a.completion_tokens), h("td", { class: "num" }, fmtCost(a.cost)))))) : h("p", { class: "muted" }, "No usage recorded."),
    h("h2", {}, "Per LLM call"), calls.length ? h("table", { "aria-label": "LLM calls" },
      h("thead", {}, h("tr", {}, ["Fact", "Agent", "Model", "Status", "Input tokens", "Output tokens", "Cost", "Duration"].map((c, i) => h("th", { scope: "col", class: i > 3 ? "num" : "" }, c)))),
      h("tbody", {}, calls.map((c) => h("tr", { "data-seq": c.seq, class: c.status === "error" ? "is-error" : "" },
        h("td", {}, this.seqLink(c.seq)), h("td", {}, c.agent), h("td", { class: "mono" }, c.model || "–"),
        h("td", {}, kindBadge("llm_call", c.status, c.status === "error" ? "failed" : "ok")), num(c.input_tokens), num(c.output_tokens),
        h("td", { class: "num" }, fmtCost(c.cost, c.cost_estimated)), h("td", { class: "num" }, fmtMs(c.duration_ms)))))) : h("p", { class: "muted" }, "No LLM calls recorded.")];
  }

  inputs() {
    const inputs = Object.entries(this.doc.run.model_inputs);
    if (!inputs.length) return h("p", { class: "muted" }, "This run recorded no model inputs (system prompt, tools, parameters).");
    return inputs.map(([agent, i]) => h("section", { "aria-label": `Model inputs of ${agent}` }, h("h2", {}, `${agent} `, this.seqLink(i.seq)),
      h("h3", {}, "System prompt"), h("pre", { class: "mono" }, i.system_prompt.join("\n\n") || "–"),
      h("h3", {}, "Tools"), i.tools.length ? h("ul", {}, i.tools.map((t) => h("li", { class: "mono" }, t))) : h("p", {}, "none"),
      h("h3", {}, "Parameters"), h("pre", { class: "mono" }, JSON.stringify(i.parameters, null, 2))));
  }

  errors() {
    const errors = this.doc.run.errors;
    if (!errors.length) return h("p", { class: "ok-box" }, "✓ No errors in this run.");
    return h("ul", {}, errors.map((e) => h("li", { class: "is-error", "data-seq": e.seq }, this.seqLink(e.seq), ` ${e.type}: ${e.says}`)));
  }

  // -- live -------------------------------------------------------------------------------------

  async onLive(event) {
    const row = event.rows.find((r) => r.correlation_id === this.id);
    if (!row) return;
    if (this.fetching) { this.pending = true; return; } // asked again once this fetch is done
    this.fetching = true;
    try {
      const last = this.doc.facts.length ? this.doc.facts[this.doc.facts.length - 1].seq : 0;
      const more = await this.load(`/api/runs/${encodeURIComponent(this.id)}?after_seq=${last}`);
      if (more.facts.length) {
        this.doc.facts.push(...more.facts.filter((f) => f.seq > last));
        this.doc.conversation.push(...more.conversation);
        for (const f of more.facts) this.bySeq.set(f.seq, f);
        for (const f of this.doc.facts) f.effects = [];
        for (const f of this.doc.facts) if (f.cause && this.bySeq.has(f.cause)) this.bySeq.get(f.cause).effects.push(f.seq);
        Object.assign(this.doc, { run: { ...more.run, forks: more.run.forks }, timeline: more.timeline, llm_calls: more.llm_calls, agents: more.agents });
        this.drawSummary(); this.drawTabs();
        if (this.tab === "facts" && this.list) this.list.refresh(); else this.drawPanel();
      }
    } finally {
      this.fetching = false;
      if (this.pending) { this.pending = false; this.onLive(event); }
    }
  }
}

function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || 10 * p;
}
