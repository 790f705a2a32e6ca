// The station page: one server-sent event stream, plots drawn as inline SVG (no network, no CDN).
// Events only note what is new; drawing happens at most once per animation frame (so a burst
// of events draws once, and a hidden tab or a phone with its screen off draws nothing until
// it is looked at again), and only what changed is touched in the page.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const state = { rows: [], spectrum: null, runFile: null };
let source = null;

function token() { return localStorage.getItem("stmToken") || ""; }

function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s) || s < 0) return "--";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  return (h ? h + "h" + String(m).padStart(2, "0") + "m" : m + "m") + String(sec).padStart(2, "0") + "s";
}
function fmt(v, digits = 3, unit = "") {
  return (v === null || v === undefined || !isFinite(v)) ? "not known" : Number(v).toPrecision(digits) + unit;
}
// Setting the same text again would still make the browser lay the page out anew.
function text(el, value) { value = String(value); if (el.textContent !== value) el.textContent = value; }

// ------------------------------------------------------------------ plots
function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
function el(name, attrs, parent) {
  const node = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}
function extent(values) {
  const ok = values.filter((v) => v !== null && isFinite(v));
  if (!ok.length) return null;
  let lo = Math.min(...ok), hi = Math.max(...ok);
  if (hi === lo) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
  return [lo, hi];
}
// Draws y(x) polylines in a 600x300 box with a margin for tick labels; series: [{x, y, color}].
function plot(svg, series, xlabel, ylabels, xfmt = (v) => v.toPrecision(3)) {
  clear(svg);
  const W = 600, H = 300, L = 60, R = 56, T = 10, B = 34;
  el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#2a323b" }, svg);
  const xs = extent(series.flatMap((s) => s.x));
  if (!xs) { const t = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg); t.textContent = "no data yet"; return; }
  const sx = (v) => L + (v - xs[0]) / (xs[1] - xs[0]) * (W - L - R);
  el("text", { x: L, y: H - 8 }, svg).textContent = xfmt(xs[0]);
  el("text", { x: W - R, y: H - 8, "text-anchor": "end" }, svg).textContent = xfmt(xs[1]);
  el("text", { x: W / 2, y: H - 8, "text-anchor": "middle" }, svg).textContent = xlabel;
  series.forEach((s, i) => {
    const ys = extent(s.y);
    if (!ys) return;
    const sy = (v) => T + (1 - (v - ys[0]) / (ys[1] - ys[0])) * (H - T - B);
    const pts = [];
    s.x.forEach((x, j) => { const y = s.y[j]; if (x !== null && y !== null && isFinite(x) && isFinite(y)) pts.push(sx(x).toFixed(1) + "," + sy(y).toFixed(1)); });
    el("polyline", { points: pts.join(" "), fill: "none", stroke: s.color, "stroke-width": 2,
                     "vector-effect": "non-scaling-stroke" }, svg);
    if (pts.length < 40) pts.forEach((p) => { const [cx, cy] = p.split(","); el("circle", { cx, cy, r: 2.5, fill: s.color }, svg); });
    const left = i === 0, xpos = left ? L - 4 : W - R + 4, anchor = left ? "end" : "start";
    el("text", { x: xpos, y: T + 10, "text-anchor": anchor, fill: s.color }, svg).textContent = s.fmt(ys[1]);
    el("text", { x: xpos, y: H - B, "text-anchor": anchor, fill: s.color }, svg).textContent = s.fmt(ys[0]);
    el("text", { x: xpos, y: (H - B + T) / 2, "text-anchor": anchor, fill: s.color }, svg).textContent = ylabels[i];
  });
}
function drawSpectrum() {
  const s = state.spectrum;
  if (!s) { plot($("spectrum-plot"), [], "bias (mV)", []); text($("spectrum-label"), ""); return; }
  plot($("spectrum-plot"), [{ x: s.bias_V.map((v) => v * 1e3), y: s.G_G0, color: "#4fa3e0", fmt: (v) => v.toPrecision(3) }],
       "bias (mV)", ["G/G0"]);
  const sm = s.summary || {};
  text($("spectrum-label"), "#" + s.row + " at " + fmt(sm.setpoint_A, 2, " A") + ", " + fmt(sm.temperature_after_K, 3, " K"));
}
function drawSeries() {
  const rows = state.rows, idx = rows.map((_, i) => i);
  plot($("series-plot"), [
    { x: idx, y: rows.map((r) => r.setpoint_A > 0 ? Math.log10(r.setpoint_A) : null), color: "#4fa3e0", fmt: (v) => Math.pow(10, v).toExponential(1) },
    { x: idx, y: rows.map((r) => r.temperature_after_K), color: "#e0a84f", fmt: (v) => v.toPrecision(4) },
  ], "spectrum #", ["I_sp (A)", "T (K)"], (v) => String(Math.round(v)));
}

// ------------------------------------------------------------------ status
let shownEvents = "";
function showStatus(st) {
  const run = st.run || {};
  const hold = st.queue_hold ? "held: " + st.queue_hold : "";
  text($("hold"), hold);
  text($("run-name"), run.run_file ? run.run_file.split("/").pop() : "");
  text($("count"), run.done ?? 0);
  text($("planned"), run.planned ?? 0);
  text($("status"), run.status || (st.current ? "starting" : "idle"));
  const paused = run.status === "paused" || (run.interlock || {}).level === "pause" || (run.interlock || {}).level === "interlock";
  text($("eta"), run.status === "finished" ? "done" : paused ? "-- (paused)" : fmtDuration(run.eta_s));
  const width = (run.planned ? 100 * run.done / run.planned : 0) + "%";
  if ($("bar").style.width !== width) $("bar").style.width = width;
  const p = run.point;
  text($("point"), p ? "#" + p.point_index + " step " + p.step_index + ", I_sp " + fmt(p.setpoint_A, 2, " A") +
       (p.target_temperature_K !== null ? ", target " + fmt(p.target_temperature_K, 3, " K") : "") : "-");
  const t = run.temperatures_K;
  text($("temps"), t ? fmt(t.before, 4, " K") + " before, " + fmt(t.after, 4, " K") + " after the last spectrum" : "-");
  text($("film"), run.film_R_ohm === null || run.film_R_ohm === undefined ? (run.film_R_note || "not known") : fmt(run.film_R_ohm, 4, " ohm"));
  text($("progress-text"), run.run_file ? (run.status || "") + ", elapsed " + fmtDuration(run.elapsed_s) :
       (st.current ? "starting " + st.current.plan_name : "no run followed yet"));
  const banner = $("banner"), b = run.interlock || {};
  if (banner.hidden !== !b.level) banner.hidden = !b.level;
  const cls = "banner " + (b.level || "");
  if (banner.className !== cls) banner.className = cls;
  text(banner, b.text || "");
  const events = run.events || [], newest = events[events.length - 1] || {};
  const key = JSON.stringify([run.run_file, events.length, newest.time_s, newest.kind, newest.message, st.service_error]);
  if (key === shownEvents) return;  // the log is rebuilt only when it has news
  shownEvents = key;
  const ol = $("events");
  ol.replaceChildren(...(run.events || []).slice().reverse().map((e) => {
    const li = document.createElement("li");
    li.textContent = fmtDuration(e.time_s) + " [" + e.kind + "]" + (e.point_index >= 0 ? " #" + e.point_index : "") + " " + e.message;
    return li;
  }));
  if (st.service_error) { const li = document.createElement("li"); li.textContent = "service: " + st.service_error; ol.prepend(li); }
}
async function refreshQueue() {
  const r = await fetch("/api/queue", { headers: authHeaders() });
  if (!r.ok) return;
  const items = await r.json();
  $("queue").tBodies[0].replaceChildren(...items.map((i) => {
    const tr = document.createElement("tr");
    for (const v of [i.plan_name, i.state, i.message]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    return tr;
  }));
}
function authHeaders() { return token() ? { Authorization: "Bearer " + token() } : {}; }

// ------------------------------------------------------------------ commands
async function command(cmd) {
  let tok = token();
  if (!tok) {
    tok = (window.prompt("Service token for " + cmd + " (from the token file)") || "").trim();
    if (!tok) return;
  }
  const r = await fetch("/api/run/" + cmd, { method: "POST", headers: { Authorization: "Bearer " + tok } });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) { localStorage.removeItem("stmToken"); text($("command-reply"), "token refused"); return; }
  localStorage.setItem("stmToken", tok);
  text($("command-reply"), r.ok ? cmd + " sent" : (body.error || ("error " + r.status)));
}
document.querySelectorAll("button[data-cmd]").forEach((b) => b.addEventListener("click", () => command(b.dataset.cmd)));

// ------------------------------------------------------------------ stream
let lastQueue = "";
function connect() {
  const q = token() ? "?token=" + encodeURIComponent(token()) : "";
  source = new EventSource("/api/stream" + q);
  source.onopen = () => { $("conn").className = "pill live"; text($("conn"), "live"); };
  source.onerror = async () => {
    $("conn").className = "pill down"; text($("conn"), "reconnecting");
    // Reads closed (served beyond loopback without --open-status): ask for the token once.
    const r = await fetch("/api/status", { headers: authHeaders() }).catch(() => null);
    if (r && r.status === 401) {
      source.close();
      const tok = (window.prompt("This station needs its token to show the run") || "").trim();
      if (tok) { localStorage.setItem("stmToken", tok); connect(); }
      else text($("conn"), "token needed");
    }
  };
  source.addEventListener("series", (ev) => {
    const d = JSON.parse(ev.data);
    state.rows = d.rows; state.runFile = d.run_file; state.spectrum = null;
    dirty.series = dirty.spectrum = true; schedule();
  });
  source.addEventListener("spectrum", (ev) => {
    const d = JSON.parse(ev.data);
    state.spectrum = d;
    for (const r of d.new_rows || []) state.rows.push(r);
    dirty.spectrum = true;
    if ((d.new_rows || []).length) dirty.series = true;
    schedule();
  });
  source.addEventListener("status", (ev) => {
    dirty.status = JSON.parse(ev.data); schedule();
  });
}

// ------------------------------------------------------------------ drawing, once per frame
const dirty = { spectrum: true, series: true, status: null };
let frame = 0;
function schedule() { if (!frame) frame = requestAnimationFrame(drawNews); }
function drawNews() {
  frame = 0;
  if (dirty.status) {
    const st = dirty.status;
    dirty.status = null;
    showStatus(st);
    const key = JSON.stringify([st.queue_counts, st.current, st.queue_hold]);
    if (key !== lastQueue) { lastQueue = key; refreshQueue(); }
  }
  if (dirty.spectrum) { dirty.spectrum = false; drawSpectrum(); }
  if (dirty.series) { dirty.series = false; drawSeries(); }
}
schedule(); connect();
