// Small DOM helpers: every text goes in as text (never as HTML), so no payload can inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the page's CSP, a style attribute is not
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (response.status === 401) { location.href = "/login"; throw new Error("log in first"); }
  const body = await response.json();
  if (!response.ok || body.error) throw new Error(body.error || response.statusText);
  return body;
}

export const ICON = { message: "✉", human: "☺", tool_call: "⚙", tool_result: "↩", llm_call: "◆",
  model_inputs: "☰", handoff: "⇄", run: "▶", fork: "↗", state: "△", alert: "⚠", error: "✕", other: "•" };

export function kindBadge(kind, status, label) {
  const bad = status === "error";
  return h("span", { class: `kind k-${kind}${bad ? " is-error" : ""}`, title: bad ? `${label || kind}: failed` : null },
    `${bad ? "✕" : ICON[kind] || "•"} ${label || kind.replace("_", " ")}`);
}

export function statusBadge(status) {
  const icon = { completed: "✓", failed: "✕", running: "…", unknown: "?" }[status] || "?";
  return h("span", { class: `status ${status || "unknown"}` }, `${icon} ${status || "unknown"}`);
}

export function fmtCost(cost, estimated) {
  if (cost === null || cost === undefined) return "–";
  return `${estimated ? "≈" : ""}$${cost.toFixed(cost < 0.01 ? 6 : 4)}`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtTime(rfc3339) {
  return rfc3339 ? rfc3339.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–";
}
