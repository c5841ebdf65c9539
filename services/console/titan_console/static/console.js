// Titan console: plain JavaScript, no build step.
// State arrives on /ws/console (STATE_UPDATE every second, plus events); lists and the
// operations panel are read over the API. Mutations send the session's CSRF token.
"use strict";

const $ = (id) => document.getElementById(id);
const me = { user: null, role: "viewer", csrf: null, systemMode: "" };
const equityPoints = [];
let socket = null;
let failures = 0;
let lastState = null;

// --- helpers ----------------------------------------------------------------------------

function fmtMoney(value) {
  if (value === null || value === undefined || value === "") return "—";
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return (n < 0 ? "-$" : "$") + Math.abs(n).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
function fmtPct(value) {
  if (value === null || value === undefined || value === "") return "—";
  return (Number(value) * 100).toFixed(2) + "%";
}
function fmtDrawdown(value) {  // the manual shows drawdown as a loss: -2.3%
  if (value === null || value === undefined || value === "") return "—";
  const n = Math.abs(Number(value) * 100);
  return (n > 0 ? "-" : "") + n.toFixed(2) + "%";
}
function fmtTime(ms) {
  return ms ? new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 19) : "—";
}
function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function isOperator() { return me.role === "operator" || me.role === "admin"; }

async function api(method, path, body) {
  const headers = { "X-Requested-With": "fetch" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && me.csrf) headers["X-CSRF-Token"] = me.csrf;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { window.location.assign("/login"); throw new Error("signed out"); }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (answer.error && answer.error.message) || `HTTP ${response.status}`;
    const error = new Error(message);
    error.status = response.status;
    error.body = answer;
    throw error;
  }
  return answer;
}

function toast(text, level = "info") {
  const node = document.createElement("div");
  node.className = `toast ${level}`;
  node.textContent = text;
  $("toasts").appendChild(node);
  setTimeout(() => node.remove(), 8000);
}

function confirmDialog(text) {
  return new Promise((resolve) => {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
  });
}

// --- connection -------------------------------------------------------------------------

function setConnection(state) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = { connected: "🟢 Connected", reconnecting: "🟡 Reconnecting", disconnected: "🔴 Disconnected",
    connecting: "🟡 Connecting" }[state];
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${window.location.host}/ws/console`);
  socket.onopen = () => { failures = 0; setConnection("connected"); };
  socket.onmessage = (event) => handle(JSON.parse(event.data));
  socket.onclose = () => {
    failures += 1;
    setConnection(failures > 5 ? "disconnected" : "reconnecting");
    const delay = Math.min(8000, 500 * 2 ** Math.min(failures - 1, 4));
    setTimeout(connect, delay);  // keeps trying, also while shown as disconnected
  };
}

setInterval(() => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "PING" })); }, 20000);

// --- messages ---------------------------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "CONNECTED": break;
    case "PONG": break;
    case "STATE_UPDATE": renderState(message.data, message.ts_ms); break;
    case "ALERT": toast(`ALERT ${message.reason_code || ""} ${message.data.message || ""}`, "critical"); refreshOps(); break;
    case "CIRCUIT_BREAKER_UPDATE": toast(`Circuit breaker ${message.data.action || ""}: ${message.data.reason || ""}`, "critical"); break;
    case "EMERGENCY_FLATTEN": toast(`Emergency flatten by ${message.operator_id || "?"}`, "warn"); refreshLists(); break;
    case "MASTER_ARM_CHANGE": toast(`Master arm ${message.data.master_arm ? "ARMED" : "DISARMED"} by ${message.operator_id || "system"}`); break;
    case "CONFIG_CHANGE": toast(`Config ${message.data.version_tag} by ${message.operator_id || "?"}`); loadSettings(); break;
    case "TRAP_SPRUNG": toast(`Trap sprung ${message.data.symbol || ""}`, "warn"); break;
    case "PHASE_CHANGE": toast(`Phase ${message.data.previous} → ${message.data.phase}`, "warn"); break;
    case "TRADE_CLOSED": refreshLists(); break;
    case "ORDER_FILLED": refreshLists(); break;
    default: break;
  }
}

function renderState(data, ts) {
  lastState = data;
  $("equity").textContent = fmtMoney(data.equity);
  $("equity").dataset.value = data.equity ?? "";
  $("daily-pnl").textContent = fmtMoney(data.dailyPnl);
  $("upnl").textContent = fmtMoney(data.unrealizedPnl);
  $("phase").textContent = data.phase ?? "—";
  $("drawdown").textContent = fmtDrawdown(data.drawdownPct);
  const breaker = data.circuitBreaker;
  $("breaker").textContent = breaker ? (breaker.active ? `ACTIVE ${breaker.level || ""}` : "not active") : "unknown";
  const armed = data.masterArm === true;
  $("arm-state").textContent = data.masterArm === null ? "UNKNOWN" : armed ? "🟢 ARMED" : "🔴 DISARMED";
  $("arm-state").dataset.armed = String(armed);
  const badge = $("mode-badge");
  badge.textContent = data.mode + (data.reasonCodes.length ? ` · ${data.reasonCodes.join(", ")}` : "");
  badge.dataset.mode = data.mode;
  badge.title = `since ${fmtTime(data.since_ms)}`;
  $("system-mode").textContent = data.systemMode;
  $("recover-button").classList.toggle("hidden", !(data.killSwitch && me.role === "admin"));
  $("protection-button").classList.toggle("hidden", !(data.reasonCodes.includes("PROTECTION_FAILED") && me.role === "admin"));
  renderVenues(data.venues || {});
  renderPositions(data.positions, data.positionsStale);
  if (data.equity !== null && data.equity !== undefined) {
    const last = equityPoints[equityPoints.length - 1];
    if (!last || ts - last.ts_ms >= 5000 || Number(last.equity) !== Number(data.equity)) {
      equityPoints.push({ ts_ms: ts, equity: data.equity });
      if (equityPoints.length > 5000) equityPoints.shift();
      drawChart();
    }
  }
}

// one chip per venue: connected, down, or unknown (its execution is silent)
function renderVenues(venues) {
  $("venues").innerHTML = Object.entries(venues).map(([venue, link]) => {
    const state = link.connected === true ? "connected" : link.connected === false ? "down" : "unknown";
    const icon = { connected: "🟢", down: "🔴", unknown: "⚪" }[state];
    return `<span class="badge venue" data-testid="venue-link-${esc(venue)}" data-state="${state}" title="${esc(venue)}: ${state}${link.mode ? ` · ${esc(link.mode)}` : ""}">${icon} ${esc(venue)}</span>`;
  }).join(" ");
}

function renderPositions(positions, stale) {
  $("positions-count").textContent = String(positions.length);
  $("positions-count").dataset.count = String(positions.length);
  const rows = positions.map((p) => `<tr data-symbol="${esc(p.symbol)}" data-venue="${esc(p.venue)}">
      <td data-testid="venue-${esc(p.venue)}-${esc(p.symbol)}" title="account ${esc(p.exchange)}">${esc(p.venue)}</td><td>${esc(p.symbol)}${p.adopted ? ' <span class="badge warn">adopted</span>' : ""}</td><td>${esc(p.side)}</td>
      <td>${esc(p.size)}</td><td>${esc(p.entryPrice)}</td><td>${esc(p.markPrice)}</td>
      <td data-testid="stop-${esc(p.venue)}-${esc(p.symbol)}">${esc(p.stopLoss ?? "NONE")}</td><td>${fmtMoney(p.unrealizedPnl)}</td>
      <td>${isOperator() ? `<button class="small danger" data-close="${esc(p.symbol)}" data-venue="${esc(p.venue)}">Close</button>` : ""}</td></tr>`);
  $("positions-body").innerHTML = rows.join("") || `<tr><td colspan="9" class="muted">no open positions${stale ? " (execution not answering)" : ""}</td></tr>`;
}

function drawChart() {
  const svg = $("equity-chart");
  if (equityPoints.length < 2) { svg.innerHTML = '<text x="10" y="100" class="muted">waiting for equity…</text>'; return; }
  const xs = equityPoints.map((p) => Number(p.ts_ms));
  const ys = equityPoints.map((p) => Number(p.equity));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  const points = equityPoints.map((p) => {
    const x = ((Number(p.ts_ms) - x0) / Math.max(1, x1 - x0)) * 790 + 5;
    const y = 195 - ((Number(p.equity) - y0) / (y1 - y0)) * 185;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  svg.innerHTML = `<polyline fill="none" stroke="currentColor" stroke-width="2" points="${points.join(" ")}"/>
    <text x="8" y="14" class="axis">${fmtMoney(y1)}</text><text x="8" y="196" class="axis">${fmtMoney(y0)}</text>`;
}

// --- actions ----------------------------------------------------------------------------

function showResult(text, level = "info") {
  const node = $("action-result");
  node.textContent = text;
  node.dataset.level = level;
}

async function setArm(enabled) {
  try {
    const answer = await api("POST", "/api/console/master-arm", { enabled, operator_id: me.user });
    showResult(`Master arm ${answer.status} (was ${answer.previous_state ? "armed" : "disarmed"})`);
  } catch (exc) { showResult(exc.message, "error"); }
}

async function flattenAll() {
  if (!(await confirmDialog("Are you sure? This will close ALL positions."))) return;
  try {
    const answer = await api("POST", "/api/console/flatten-all", { operator_id: me.user });
    const failed = [];
    for (const [venue, how] of Object.entries(answer.venues || {})) {
      for (const r of how.results || []) if (!r.success) failed.push(`${venue} ${r.symbol}`);
      if (how.error) failed.push(`${venue} (${how.error})`);  // its execution did not answer: it closed nothing
    }
    showResult(`Flatten: ${answer.positions_closed} position(s) closed, ${answer.orders_cancelled} order(s) cancelled` +
      (failed.length ? `; FAILED: ${failed.join(", ")}` : ""), failed.length ? "error" : "info");
  } catch (exc) { showResult(exc.message, "error"); }
}

async function cancelAll() {
  if (!(await confirmDialog("Cancel ALL open orders?"))) return;
  try {
    const answer = await api("POST", "/api/console/cancel-all", { operator_id: me.user });
    showResult(`Cancel all: ${answer.orders_cancelled} order(s) cancelled`);
  } catch (exc) { showResult(exc.message, "error"); }
}

async function killSwitch() {
  let challenge;
  try { challenge = await api("POST", "/api/console/kill-switch", { operator_id: me.user }); }
  catch (exc) { showResult(exc.message, "error"); return; }
  $("kill-code").textContent = challenge.confirmation_code;
  $("kill-input").value = "";
  const dialog = $("kill-dialog");
  dialog.returnValue = "";
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "confirm") return;
    try {
      const answer = await api("POST", "/api/console/kill-switch", { confirmation_code: $("kill-input").value, operator_id: me.user });
      const failed = answer.steps.filter((s) => !s.success).map((s) => s.step);
      showResult(`Kill switch engaged: mode ${answer.mode}` + (failed.length ? `; FAILED steps: ${failed.join(", ")}` : ""),
        failed.length ? "error" : "info");
    } catch (exc) { showResult(exc.message, "error"); }
  }, { once: true });
  dialog.showModal();
}

async function recover() {
  const reason = window.prompt("Why is it safe to clear the kill switch?");
  if (!reason) return;
  try {
    const answer = await api("POST", "/api/console/kill-switch/recover", { reason });
    showResult(`Kill switch cleared; mode ${answer.mode}. Master arm stays off until you arm.`);
  } catch (exc) { showResult(exc.message, "error"); }
}

async function clearProtectionFailed() {
  const reason = window.prompt("You reviewed the positions and their stops. Why is it safe to clear PROTECTION_FAILED?");
  if (!reason) return;
  try {
    const answer = await api("POST", "/api/console/protection-failed/clear", { reason });
    showResult(answer.cleared ? `PROTECTION_FAILED cleared; mode ${answer.mode}`
      : `Still unprotected: ${answer.unprotected.join(", ")}`, answer.cleared ? "info" : "error");
  } catch (exc) { showResult(exc.message, "error"); }
}

// --- lists and panels -------------------------------------------------------------------

async function refreshOps() {
  try {
    const ops = await api("GET", "/api/console/operations");
    const m = ops.mode;
    $("ops-mode").innerHTML = `<b data-mode="${esc(m.mode)}">${esc(m.mode)}</b> ${esc(m.reason_codes.join(", ") || "no reason codes")} · since ${fmtTime(m.since_ms)}
      <div class="muted">${Object.entries(m.services).map(([n, s]) => `${esc(n)}: ${esc(s.status)}`).join(" · ")}</div>`;
    $("ops-alerts").innerHTML = ops.alerts.slice(0, 20).map((a) => `<div class="alert ${esc(a.severity)} ${a.acknowledged_ms ? "acked" : ""}">
      <b>${esc(a.severity)}</b> ${esc(a.reason_code || a.alert_type)} · ${esc(a.message)} · ${fmtTime(a.ts_ms)}
      ${!a.acknowledged_ms && isOperator() ? `<button class="small" data-ack="${a.id}">Ack</button>` : a.acknowledged_by ? `<span class="muted">ack ${esc(a.acknowledged_by)}</span>` : ""}</div>`).join("") || '<span class="muted">no alerts</span>';
    $("ops-stages").innerHTML = ops.stage_changes.map((s) => `<div>${fmtTime(s.ts_ms)} ${esc(s.service)} ${esc(s.event_type)} ${esc(s.stage || "")}
      ${esc((s.payload && s.payload.from) ? `${s.payload.from} → ${s.payload.to}` : "")} ${esc(s.reason_code || "")}</div>`).join("") || '<span class="muted">none</span>';
    const st = ops.storage;
    const writers = Object.entries(st.writers).map(([n, w]) => `${esc(n)} ${esc(w.state)} ${w.queue_pct}% lag ${w.lag_ms} ms`).join(" · ");
    $("ops-storage").innerHTML = `DB ${st.database.ok ? "ok" : "DOWN"} ${st.database.latency_ms ?? ""} ms · size ${(st.database.size_bytes / 1e6 || 0).toFixed(1)} MB ·
      WAL ${st.wal.bytes === null ? "n/a" : (st.wal.bytes / 1e6).toFixed(1) + " MB"} · disk free ${(st.disk.free_bytes / 1e9).toFixed(1)} GB (${st.disk.free_pct}%)<div class="muted">${writers}</div>`;
    $("ops-intents").innerHTML = ops.intents.by_state.map((r) => `<span class="chip ${r.state === "SENT_UNKNOWN" && r.count ? "critical" : ""}">${esc(r.state)} ${r.count}</span>`).join(" ");
    const rc = ops.reconcile;
    $("ops-reconcile").innerHTML = `<b>${esc(rc.status)}</b> ${rc.last_run ? `${esc(rc.last_run.trigger)} · ${fmtTime(rc.last_run.finished_ms)} · ${rc.last_run.finished_ms - rc.last_run.started_ms} ms` : ""}
      ${(rc.diffs || []).map((d) => `<div>${esc(d.kind)} ${esc(d.symbol || "")} ${esc(d.field)}: ${esc(d.shadow)} → ${esc(d.exchange)} (${esc(d.severity)}, ${esc(d.action)})</div>`).join("")}`;
    const ch = ops.churn;
    $("ops-churn").innerHTML = ch.available ? `10 s: ${esc(JSON.stringify(ch.window_10s))} / ${ch.limit_10s} · 60 s: ${esc(JSON.stringify(ch.window_60s))} / ${ch.limit_60s}
      ${ch.near_limit ? '<b class="critical">near limit</b>' : ""} ${ch.top_symbol ? `· top ${esc(ch.top_symbol.symbol)}` : ""}` : '<span class="muted">no samples yet</span>';
  } catch (exc) { $("ops-mode").textContent = `panel unavailable: ${exc.message}`; }
}

// --- AI Quant proposals -----------------------------------------------------------------

function evidenceChart(evidence) {
  // held-out return and max drawdown, baseline against candidate: bars either side of zero
  const rows = [["held-out return %", "return_pct"], ["held-out max DD %", "max_drawdown_pct"]];
  const value = (side, key) => Number(evidence[side].held_out[key]) || 0;
  const scale = Math.max(1e-9, ...rows.flatMap(([, key]) => ["baseline", "candidate"].map((side) => Math.abs(value(side, key)))));
  const zero = 260;
  const bars = rows.map(([label, key], i) => `<text x="4" y="${i * 44 + 22}" class="axis">${esc(label)}</text>` +
    ["baseline", "candidate"].map((side, j) => {
      const v = value(side, key);
      const w = (Math.abs(v) / scale) * 110;
      const y = i * 44 + j * 18 + 4;
      return `<rect x="${v < 0 ? zero - w : zero}" y="${y}" width="${w.toFixed(1)}" height="14" class="${side}"/>
        <text x="${zero + (v < 0 ? 4 : w + 4)}" y="${y + 11}" class="axis">${esc(side)} ${v}</text>`;
    }).join("")).join("");
  return `<svg class="evidence-chart" viewBox="0 0 460 92" role="img" aria-label="held-out figures">
    <line x1="${zero}" y1="0" x2="${zero}" y2="92" class="zero"/>${bars}</svg>`;
}

function proposalHtml(p) {
  const ev = p.evidence || {};
  const figures = (side, part) => (ev[side] && ev[side][part]) || {};
  const row = (side) => `<tr><th>${side}</th>${["search", "held_out"].map((part) => {
    const f = figures(side, part);
    return `<td>${esc(f.return_pct)}%</td><td>${esc(f.max_drawdown_pct)}%</td><td>${esc(f.trades)}</td>`;
  }).join("")}</tr>`;
  const diff = (p.diff || []).map((d) => `<code>${esc(d.path)}</code> ${esc(d.before)} → ${esc(d.after)}`).join("<br>");
  return `<div class="proposal" data-testid="proposal-${p.id}">
    <h3>#${p.id} ${esc(p.title)} ${p.stale ? '<b class="critical">stale</b>' : ""}</h3>
    <div>${diff}</div>
    <table class="evidence"><tr><th></th><th colspan="3">searched</th><th colspan="3">held out</th></tr>
      <tr><th></th><th>return</th><th>max DD</th><th>trades</th><th>return</th><th>max DD</th><th>trades</th></tr>
      ${row("baseline")}${row("candidate")}</table>
    ${ev.baseline && ev.candidate ? evidenceChart(ev) : ""}
    <p class="muted">${esc(p.rationale || "")}</p>
    <button class="needs-operator" data-approve="${p.id}" data-testid="approve-${p.id}" ${isOperator() ? "" : "disabled"}>Approve</button>
    <button class="needs-operator" data-reject="${p.id}" data-testid="reject-${p.id}" ${isOperator() ? "" : "disabled"}>Reject…</button>
  </div>`;
}

async function refreshProposals() {
  try {
    const answer = await api("GET", "/api/proposals/pending");
    $("proposals").innerHTML = answer.proposals.map(proposalHtml).join("") || '<span class="muted">no pending proposals</span>';
  } catch (exc) { $("proposals").innerHTML = `<span class="muted">${esc(exc.message)}</span>`; }
}

async function decideProposal(id, approve) {
  try {
    if (approve) {
      if (!(await confirmDialog(`Apply proposal #${id} as a new config version?`))) return;
      const answer = await api("POST", `/api/proposals/${id}/approve`, { operator_id: me.user });
      showResult(`Proposal #${id} approved: config ${answer.version_tag}`);
    } else {
      const reason = window.prompt(`Why reject proposal #${id}?`);
      if (!reason) return;
      await api("POST", `/api/proposals/${id}/reject`, { reason, operator_id: me.user });
      showResult(`Proposal #${id} rejected`);
    }
  } catch (exc) { showResult(exc.message, "error"); }
  refreshProposals();
}

async function refreshLists() {
  try {
    const trades = await api("GET", "/api/console/trades?limit=50");
    $("trades-body").innerHTML = trades.trades.map((t) => `<tr><td>${fmtTime(t.closedAt)}</td><td>${esc(t.exchange ?? "")}</td><td>${esc(t.symbol)}</td><td>${esc(t.side)}</td>
      <td>${esc(t.qty)}</td><td>${esc(t.entryPrice)}</td><td>${esc(t.exitPrice)}</td><td>${fmtMoney(t.pnl)}</td><td>${esc(t.rMultiple ?? "")}</td></tr>`).join("")
      || '<tr><td colspan="9" class="muted">no trades</td></tr>';
  } catch (exc) { /* shown as empty */ }
  try {
    const orders = await api("GET", "/api/console/orders");
    $("orders-body").innerHTML = orders.orders.map((o) => `<tr><td>${esc(o.venue ?? "")}</td><td>${esc(o.symbol)}</td><td>${esc(o.side)}</td><td>${esc(o.orderType)}</td>
      <td>${esc(o.qty)}</td><td>${esc(o.price ?? "")}</td><td>${esc(o.status)}</td></tr>`).join("") || '<tr><td colspan="7" class="muted">no open orders</td></tr>';
  } catch (exc) { $("orders-body").innerHTML = `<tr><td colspan="7" class="muted">${esc(exc.message)}</td></tr>`; }
}

async function loadPhase1() {
  try {
    const signals = await api("GET", "/api/console/signals?limit=50");
    $("signals").innerHTML = signals.signals.map((s) => `<tr><td>${fmtTime(s.ts_ms)}</td><td>${esc(s.symbol)}</td><td>${esc(s.side)}</td>
      <td>${esc(s.trap_type)}</td><td>${esc(s.status)}</td><td>${esc(s.verdict ?? "")}</td><td>${esc((s.reasons || []).join(", "))}</td></tr>`).join("")
      || '<tr><td colspan="7" class="muted">no signals</td></tr>';
  } catch (exc) { /* empty */ }
  try {
    const traps = await api("GET", "/api/console/traps");
    const list = traps.traps || [];
    const perVenue = Object.entries(traps.venues || {}).map(([venue, v]) =>
      `${esc(venue)}: ${v.available ? `${v.count ?? 0} · ${v.emitting ? "emitting" : "not emitting"}` : "unavailable"}`).join(" · ");
    const head = `<div class="muted">${traps.count ?? list.length} trap(s) · built ${fmtTime(traps.built_ms)} · ${perVenue || (traps.emitting ? "emitting" : "not emitting")}</div>`;
    const rows = list.map((t) => `<tr class="${t.in_zone ? "critical" : ""}"><td>${esc(t.venue ?? "")}</td><td>${esc(t.symbol)}</td><td>${esc(t.trap_type)}</td><td>${esc(t.side)}</td>
      <td>${esc(t.trigger_price)}</td><td>${esc(t.price ?? "")}</td><td>${t.distance_pct === null || t.distance_pct === undefined ? "" : Number(t.distance_pct).toFixed(3) + "%"}</td>
      <td>${esc(t.stop_loss)}</td><td>${esc(t.confidence)}</td></tr>`).join("");
    $("traps").innerHTML = head + (rows ? `<table><thead><tr><th>venue</th><th>symbol</th><th>type</th><th>side</th><th>trigger</th><th>price</th><th>distance</th><th>stop</th><th>confidence</th></tr></thead><tbody>${rows}</tbody></table>` : '<span class="muted">no traps</span>');
  } catch (exc) { $("traps").innerHTML = `<span class="muted">${esc(exc.message)}</span>`; }
}

async function loadSettings() {
  try {
    const config = await api("GET", "/api/console/config");
    const form = $("risk-form");
    for (const [name, value] of Object.entries(config.risk_tuner)) form.elements[name].value = value;
    $("whitelist").innerHTML = config.asset_whitelist.map((s) => `<li class="chip">${esc(s)}${isOperator() ? ` <button class="small" data-remove="${esc(s)}" title="remove">×</button>` : ""}</li>`).join("");
    const p1 = config.phases[0];
    $("phase1-config").innerHTML = `risk per trade ${fmtPct(p1.risk_pct)} (range ${p1.risk_pct_min}–${p1.risk_pct_max}) · max leverage ${p1.max_leverage}x · config ${esc(config.version_tag)}`;
    const versions = await api("GET", "/api/config/versions");
    $("versions-body").innerHTML = versions.versions.map((v) => `<tr><td>${esc(v.version_tag)}${v.active ? ' <span class="badge">active</span>' : ""}</td>
      <td>${esc(v.changed_by)}</td><td>${esc(v.change_summary)}</td>
      <td>${!v.active && isOperator() ? `<button class="small" data-rollback="${esc(v.version_tag)}">Roll back</button>` : ""}</td></tr>`).join("");
  } catch (exc) { $("settings-result").textContent = exc.message; }
}

async function saveConfig(path, body) {
  try {
    const answer = await api("POST", path, body);
    $("settings-result").textContent = answer.changed ? `saved as ${answer.version_tag}: ${answer.change_summary}` : "no change";
    $("settings-result").dataset.level = "info";
    loadSettings();
  } catch (exc) {
    $("settings-result").textContent = exc.message;
    $("settings-result").dataset.level = "error";
  }
}

// --- wiring -----------------------------------------------------------------------------

function wire() {
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".panel").forEach((p) => p.classList.toggle("active", p.id === tab.dataset.tab));
    if (tab.dataset.tab === "positions") refreshLists();
    if (tab.dataset.tab === "phase1") { loadPhase1(); loadSettings(); }
    if (tab.dataset.tab === "settings") loadSettings();
  }));
  $("arm-button").addEventListener("click", () => setArm(true));
  $("disarm-button").addEventListener("click", () => setArm(false));
  $("flatten-button").addEventListener("click", flattenAll);
  $("cancel-button").addEventListener("click", cancelAll);
  $("kill-button").addEventListener("click", killSwitch);
  $("recover-button").addEventListener("click", recover);
  $("protection-button").addEventListener("click", clearProtectionFailed);
  $("logout").addEventListener("click", async () => { await api("POST", "/api/auth/logout").catch(() => null); window.location.assign("/login"); });
  document.body.addEventListener("click", async (event) => {
    const target = event.target;
    if (target.dataset.ack) { await api("POST", `/api/console/alerts/${target.dataset.ack}/ack`).catch((e) => toast(e.message, "critical")); refreshOps(); }
    if (target.dataset.close && (await confirmDialog(`Close the ${target.dataset.close} position on ${target.dataset.venue}?`))) {
      const where = `?venue=${encodeURIComponent(target.dataset.venue)}`;
      await api("POST", `/api/console/positions/${target.dataset.close}/close${where}`, { operator_id: me.user }).then(
        (a) => showResult(`${a.symbol}: ${a.positions_closed} closed`), (e) => showResult(e.message, "error"));
    }
    if (target.dataset.approve) decideProposal(target.dataset.approve, true);
    if (target.dataset.reject) decideProposal(target.dataset.reject, false);
    if (target.dataset.remove) saveConfig("/api/console/config/whitelist", { action: "remove", symbol: target.dataset.remove });
    if (target.dataset.rollback && (await confirmDialog(`Roll back to ${target.dataset.rollback}?`))) {
      saveConfig("/api/config/rollback", { version_tag: target.dataset.rollback });
    }
  });
  $("risk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target.elements;
    saveConfig("/api/console/config/risk", {
      maxRiskPerTrade: Number(form.maxRiskPerTrade.value), maxDailyDrawdown: Number(form.maxDailyDrawdown.value),
      maxLeverage: Number(form.maxLeverage.value),
    });
  });
  $("phase-risk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target.elements;
    saveConfig("/api/console/config/phase-risk", { phase: Number(form.phase.value), risk_pct: Number(form.risk_pct.value) });
  });
  $("whitelist-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveConfig("/api/console/config/whitelist", { action: "add", symbol: event.target.elements.symbol.value });
    event.target.reset();
  });
  $("rollback-time-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveConfig("/api/config/rollback", { version_tag: event.target.elements.when.value });
  });
}

async function start() {
  let who;
  try { who = await api("GET", "/api/auth/me"); } catch (exc) { return; }
  Object.assign(me, { user: who.user, role: who.role, csrf: who.csrf_token, systemMode: who.system_mode });
  $("user").textContent = `${who.user} (${who.role})`;
  document.body.dataset.role = who.role;
  document.querySelectorAll(".needs-operator").forEach((node) => { node.disabled = !isOperator(); });
  $("warnings").innerHTML = (who.warnings || []).map((w) => `<div>⚠️ ${esc(w)}</div>`).join("");
  wire();
  try {
    const curve = await api("GET", "/api/console/equity?hours=24");
    equityPoints.push(...curve.points);
    drawChart();
  } catch (exc) { /* the live points fill it */ }
  connect();
  refreshOps();
  refreshProposals();
  setInterval(() => { if ($("overview").classList.contains("active")) { refreshOps(); refreshProposals(); } }, 5000);
  loadSettings();
}

start();
