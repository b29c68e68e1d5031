// The ChatSnapshot UI: routing by URL fragment, the runs table, SQL, verify, and the live feed.
import { api, fmtCost, fmtMs, fmtTime, h, statusBadge } from "/static/dom.js";
import { runView } from "/static/run.js";

const main = document.getElementById("main");
const live = document.getElementById("live");
const listeners = new Set(); // views that want the live feed: fn(event)
let info = null;

function route() {
  const hash = location.hash || "#/runs";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  listeners.clear();
  main.dataset.route = String(Number(main.dataset.route || 0) + 1); // a view that loads late checks it is still current
  document.querySelectorAll("[data-nav]").forEach((a) =>
    a.toggleAttribute("aria-current", a.dataset.nav === (parts[0] === "run" ? "runs" : parts[0] || "runs")));
  document.querySelectorAll("[data-nav][aria-current]").forEach((a) => a.setAttribute("aria-current", "page"));
  main.replaceChildren();
  if (parts[0] === "run" && parts[1]) return runView(main, decodeURIComponent(parts[1]), params, listeners, info);
  if (parts[0] === "sql") return sqlView(params);
  if (parts[0] === "verify") return verifyView(params);
  return runsView(params);
}

// -- runs ---------------------------------------------------------------------------------------

const COLUMNS = [
  ["correlation_id", "Run"], ["status", "Status"], ["agents", "Agents", false], ["services", "Service", false],
  ["started", "Started"], ["duration_ms", "Duration", true, "num"], ["facts", "Facts", true, "num"],
  ["total_tokens", "Tokens", true, "num"], ["cost", "Cost", true, "num"], ["errors", "Errors", true, "num"],
  ["conversation_id", "Conversation", false], ["forked_from", "Forked from", false],
];

function runsView(params) {
  const state = { q: params.get("q") || "", status: params.get("status") || "", agent: params.get("agent") || "",
    service: params.get("service") || "", conversation: params.get("conversation") || "",
    sort: params.get("sort") || "started", desc: params.get("desc") !== "0", offset: +(params.get("offset") || 0),
    limit: 50, group: params.get("group") === "conversation" };
  const search = h("input", { id: "q", type: "search", value: state.q, placeholder: "id, agent or a word said",
    "aria-label": "Search runs by id, agent or payload text" });
  const selects = {};
  const facet = (name, label) => {
    selects[name] = h("select", { id: `f-${name}`, "aria-label": `Filter by ${label}` }, h("option", { value: "" }, "any"));
    return h("label", { for: `f-${name}` }, label, selects[name]);
  };
  const message = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const tbody = h("tbody");
  const head = h("tr");
  const pager = h("div", { class: "pager" });
  const form = h("form", { class: "toolbar", role: "search", onsubmit: (e) => { e.preventDefault(); apply({ offset: 0 }); } },
    h("label", { for: "q" }, "Search", search), facet("status", "Status"), facet("agent", "Agent"),
    facet("service", "Service"), h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", id: "group", "aria-pressed": state.group ? "true" : "false",
      onclick: () => apply({ group: !state.group, offset: 0 }) }, "Group by conversation"));
  main.append(h("h1", {}, "Runs"), form, message,
    h("div", { class: "table-wrap" }, h("table", { "aria-label": "Runs" }, h("thead", {}, head), tbody)), pager);
  for (const name of Object.keys(selects)) selects[name].addEventListener("change", () => apply({ offset: 0 }));

  function apply(change) {
    Object.assign(state, change, { q: search.value.trim(), status: selects.status.value, agent: selects.agent.value,
      service: selects.service.value });
    const p = new URLSearchParams();
    for (const k of ["q", "status", "agent", "service", "conversation"]) if (state[k]) p.set(k, state[k]);
    if (state.sort !== "started") p.set("sort", state.sort);
    if (!state.desc) p.set("desc", "0");
    if (state.offset) p.set("offset", state.offset);
    if (state.group) p.set("group", "conversation");
    document.getElementById("group")?.setAttribute("aria-pressed", state.group ? "true" : "false");
    history.replaceState(null, "", `#/runs${p.toString() ? "?" + p : ""}`);
    load();
  }

  function drawHead() {
    head.replaceChildren(...COLUMNS.map(([key, label, sortable = true, cls]) => {
      const sorted = state.sort === key;
      const aria = sorted ? (state.desc ? "descending" : "ascending") : null;
      const content = sortable && (info?.sortable || []).includes(key)
        ? h("button", { type: "button", onclick: () => apply({ sort: key, desc: sorted ? !state.desc : true, offset: 0 }) },
          label, sorted ? (state.desc ? " ▼" : " ▲") : "")
        : label;
      return h("th", { scope: "col", class: cls, "aria-sort": aria }, content);
    }));
  }

  function row(r) {
    const link = h("a", { href: `#/run/${encodeURIComponent(r.correlation_id)}`, class: "mono" }, r.correlation_id);
    const conv = r.conversation_id ? h("a", { href: `#/runs?conversation=${encodeURIComponent(r.conversation_id)}`,
      class: "mono" }, r.conversation_id) : "";
    const fork = r.forked_from ? h("a", { href: `#/run/${encodeURIComponent(r.forked_from)}`, class: "mono" },
      `↗ ${r.forked_from.slice(-12)}`) : "";
    return h("tr", { dataset: { run: r.correlation_id } },
      h("td", {}, link), h("td", {}, statusBadge(r.status)), h("td", {}, r.agents.join(", ")),
      h("td", {}, r.services.join(", ")), h("td", { class: "mono" }, fmtTime(r.started)),
      h("td", { class: "num" }, fmtMs(r.duration_ms)), h("td", { class: "num" }, r.facts),
      h("td", { class: "num" }, r.total_tokens ?? "–"), h("td", { class: "num" }, fmtCost(r.cost, r.cost_estimated)),
      h("td", { class: `num${r.errors ? " errors" : ""}` }, r.errors ? `✕ ${r.errors}` : "0"),
      h("td", {}, conv), h("td", {}, fork));
  }

  const CONVERSATION_COLUMNS = ["Conversation", "Runs", "Status", "Agents", "Started", "Facts", "Tokens", "Cost", "Errors"];

  async function loadConversations() {
    head.replaceChildren(...CONVERSATION_COLUMNS.map((c, i) => h("th", { scope: "col", class: i && i !== 2 && i !== 3 && i !== 4 ? "num" : null }, c)));
    let page;
    try { page = await api(`/api/conversations?offset=${state.offset}&limit=${state.limit}`); }
    catch (e) { message.replaceChildren(h("span", { class: "error-box" }, e.message)); return; }
    tbody.replaceChildren(...page.rows.map((c) => h("tr", {},
      h("td", {}, h("a", { href: `#/runs?conversation=${encodeURIComponent(c.conversation_id)}`, class: "mono" }, c.conversation_id)),
      h("td", { class: "num" }, c.runs),
      h("td", {}, Object.entries(c.statuses).map(([s, n]) => h("span", {}, statusBadge(s), ` ${n} `))),
      h("td", {}, c.agents.join(", ")), h("td", { class: "mono" }, fmtTime(c.started)), h("td", { class: "num" }, c.facts),
      h("td", { class: "num" }, c.total_tokens), h("td", { class: "num" }, fmtCost(c.cost)),
      h("td", { class: `num${c.errors ? " errors" : ""}` }, c.errors ? `✕ ${c.errors}` : "0"))));
    const end = Math.min(page.offset + page.rows.length, page.total);
    message.textContent = `${page.total.toLocaleString()} conversation${page.total === 1 ? "" : "s"}`;
    pager.replaceChildren(
      h("button", { type: "button", disabled: page.offset === 0, onclick: () => apply({ offset: Math.max(0, page.offset - page.limit) }) }, "← Previous"),
      h("span", {}, page.total ? `${page.offset + 1}–${end} of ${page.total.toLocaleString()}` : "no conversations"),
      h("button", { type: "button", disabled: end >= page.total, onclick: () => apply({ offset: page.offset + page.limit }) }, "Next →"));
  }

  let loading = null;
  async function load() {
    if (state.group) return loadConversations();
    drawHead();
    const p = new URLSearchParams({ offset: state.offset, limit: state.limit, sort: state.sort, desc: state.desc ? "1" : "0" });
    for (const k of ["q", "status", "agent", "service", "conversation"]) if (state[k]) p.set(k, state[k]);
    const mine = (loading = api(`/api/runs?${p}`));
    let page;
    try { page = await mine; } catch (e) { message.replaceChildren(h("span", { class: "error-box" }, e.message)); return; }
    if (mine !== loading) return;
    for (const [name, select] of Object.entries(selects)) {
      const chosen = state[name];
      select.replaceChildren(h("option", { value: "" }, "any"),
        ...page.facets[name].map((v) => h("option", { value: v, selected: v === chosen }, v)));
    }
    tbody.replaceChildren(...page.rows.map(row));
    const end = Math.min(page.offset + page.rows.length, page.total);
    message.textContent = `${page.total.toLocaleString()} of ${page.runs.toLocaleString()} runs` +
      (state.conversation ? ` in conversation ${state.conversation}` : "");
    pager.replaceChildren(
      h("button", { type: "button", disabled: page.offset === 0, onclick: () => apply({ offset: Math.max(0, page.offset - page.limit) }) }, "← Previous"),
      h("span", {}, page.total ? `${page.offset + 1}–${end} of ${page.total.toLocaleString()}` : "no runs"),
      h("button", { type: "button", disabled: end >= page.total, onclick: () => apply({ offset: page.offset + page.limit }) }, "Next →"));
  }

  let reload = null;
  listeners.add((event) => {
    let unseen = false;
    for (const r of event.rows) {
      const tr = tbody.querySelector(`tr[data-run="${CSS.escape(r.correlation_id)}"]`);
      if (tr) { const fresh = row(r); fresh.classList.add("fresh"); tr.replaceWith(fresh); } else unseen = true;
    }
    if ((unseen || event.more) && !reload) reload = setTimeout(() => { reload = null; load(); }, 300);
  });
  load();
}

// -- SQL ----------------------------------------------------------------------------------------

function sqlView(params) {
  const example = "SELECT event_type, count(*) AS n FROM envelopes GROUP BY 1 ORDER BY n DESC";
  const box = h("textarea", { id: "sql", spellcheck: "false", class: "mono" }, params.get("q") || example);
  const out = h("div", { class: "sql-result", "aria-live": "polite" });
  const run = async () => {
    const q = box.value.trim();
    history.replaceState(null, "", `#/sql?q=${encodeURIComponent(q)}`);
    out.replaceChildren(h("p", { class: "muted" }, "running…"));
    try {
      const answer = await api(`/api/sql?q=${encodeURIComponent(q)}`);
      const cell = (v) => (v === null ? h("span", { class: "muted" }, "NULL") : typeof v === "object" ? JSON.stringify(v) : String(v));
      out.replaceChildren(
        h("p", { class: "muted" }, `${answer.total.toLocaleString()} row(s)` + (answer.total > answer.rows.length ? `, the first ${answer.rows.length} shown` : "")),
        h("table", { "aria-label": "Query result" },
          h("thead", {}, h("tr", {}, answer.columns.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, answer.rows.map((r) => h("tr", {}, answer.columns.map((c) => h("td", { class: "mono" }, cell(r[c]))))))));
    } catch (e) {
      out.replaceChildren(h("div", { class: "error-box", role: "alert" }, e.message));
    }
  };
  main.append(h("h1", {}, "SQL"),
    h("p", { class: "muted" }, "Read-only DuckDB SQL over the views envelopes, runs, causes, conversations and dead_letters."),
    h("label", { for: "sql" }, "Query"), box,
    h("div", { class: "toolbar" }, h("button", { type: "button", onclick: run }, "Run query")), out);
  box.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(); });
  if (params.get("q")) run();
}

// -- verify -------------------------------------------------------------------------------------

function verifyView(params) {
  const input = h("input", { id: "vrun", value: params.get("run") || "", placeholder: "all runs", class: "mono" });
  const out = h("div", { "aria-live": "polite" });
  const check = async () => {
    const run = input.value.trim();
    history.replaceState(null, "", `#/verify${run ? "?run=" + encodeURIComponent(run) : ""}`);
    out.replaceChildren(h("p", { class: "muted" }, "recomputing every hash…"));
    try {
      const r = await api(`/api/verify${run ? "?run=" + encodeURIComponent(run) : ""}`);
      out.replaceChildren(h("div", { class: r.ok ? "ok-box" : "error-box", role: r.ok ? "status" : "alert" },
        `${r.ok ? "✓" : "✕"} ${r.words}`),
      r.breaks.length ? h("ul", {}, r.breaks.map((b) => h("li", { class: "is-error" },
        "run ", h("a", { href: `#/run/${encodeURIComponent(b.correlation_id)}` }, b.correlation_id), ` seq ${b.seq}: ${b.reason}`))) : "",
      r.problems.length ? h("ul", {}, r.problems.map((p) => h("li", { class: "is-error" }, `${p.file}: ${p.reason}`))) : "");
    } catch (e) { out.replaceChildren(h("div", { class: "error-box", role: "alert" }, e.message)); }
  };
  main.append(h("h1", {}, "Verify"),
    h("p", {}, "Recompute every hash chain and check every file against the checksums the ledger recorded."),
    h("div", { class: "toolbar" }, h("label", { for: "vrun" }, "Run (empty: the whole ledger)", input),
      h("button", { type: "button", onclick: check }, "Verify")), out);
  if (params.has("run") || params.has("now")) check();
}

// -- live feed ----------------------------------------------------------------------------------

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("hello", () => { live.textContent = "live"; live.classList.add("on"); });
  source.addEventListener("runs", (e) => {
    const event = JSON.parse(e.data);
    for (const listener of listeners) listener(event);
  });
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
}

async function start() {
  info = await api("/api/info");
  document.getElementById("source").textContent = info.source;
  window.addEventListener("hashchange", route);
  route();
  connect();
}
start();
