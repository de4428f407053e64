// botctl dashboard: signs in with a token (the agent answers with an HttpOnly session cookie
// and a CSRF token kept in memory here), then shows /api/v1 and refreshes itself.
"use strict";

const REFRESH_MS = 5000;
const SLOW_REFRESH_MS = 30000;
let me = null;
let timer = null;
let lastSlow = 0;
let pending = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (me) headers["X-CSRF-Token"] = me.csrf;
  }
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401 && path !== "/session") {
    signedOut();
    throw new Error("signed out");
  }
  if (!res.ok) {
    const message = data && data.error ? data.error.message : res.statusText;
    throw new Error(message);
  }
  return data;
}

// Figures ------------------------------------------------------------------------------
function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}
function duration(secs) {
  if (secs === null || secs === undefined) return "-";
  const d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600);
  const m = Math.floor(secs % 3600 / 60), s = Math.floor(secs % 60);
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}
function cpu(v) { return v === null || v === undefined ? "-" : v.toFixed(1) + "%"; }
function time(ms) { return new Date(ms).toLocaleString(); }
function fact(label, value) { return el("span", {}, el("b", {}, label + " "), String(value)); }
function stateBadge(state) { return el("span", { class: "state " + state }, state); }

function bar(used, limit) {
  const pct = limit > 0 ? Math.min(100, used * 100 / limit) : 0;
  const fill = el("i", { class: used > limit ? "over" : "" });
  fill.style.width = pct.toFixed(1) + "%";
  return el("div", { class: "bar" }, fill);
}

// A line graph of one figure as inline SVG, scaled to its own maximum.
function graph(target, points, pick, format) {
  const box = $(target);
  box.replaceChildren();
  if (!points.length) { box.append(el("small", {}, "no samples yet")); return; }
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const values = points.map(pick);
  const max = Math.max(...values, 1e-9);
  const t0 = points[0].ts_ms, t1 = points[points.length - 1].ts_ms;
  const x = (t) => t1 === t0 ? 300 : (t - t0) * 300 / (t1 - t0);
  const y = (v) => 98 - v * 94 / max;
  const coords = points.map((p, i) => x(p.ts_ms).toFixed(1) + "," + y(values[i]).toFixed(1));
  const area = document.createElementNS(ns, "polygon");
  area.setAttribute("class", "area");
  area.setAttribute("points", "0,100 " + coords.join(" ") + " 300,100");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("class", "line");
  line.setAttribute("points", coords.join(" "));
  const title = document.createElementNS(ns, "title");
  title.textContent = "peak " + format(max) + ", last " + format(values[values.length - 1]);
  svg.append(title, area, line);
  box.append(svg, el("small", {}, "peak " + format(max) + " · now " + format(values[values.length - 1])));
}

// Views ------------------------------------------------------------------------------
function show(section) {
  for (const id of ["signin", "fleet", "bot"]) $(id).hidden = id !== section;
}

function signedOut() {
  me = null;
  clearTimeout(timer);
  // The next person to sign in starts at the list, not at the last one's bot.
  if (location.hash) history.replaceState(null, "", location.pathname);
  $("who").textContent = "";
  $("signout").hidden = true;
  show("signin");
}

function signedIn(session) {
  me = session;
  const scope = (session.admin ? "admin" : "owner") + (session.read_only ? ", read-only" : "");
  $("who").textContent = session.user + " (" + scope + ")";
  $("signout").hidden = false;
  $("actions").hidden = session.read_only;
  $("cleanup").hidden = !session.admin;
  lastSlow = 0;
  route();
}

function route() {
  clearTimeout(timer);
  if (!me) return;
  const m = location.hash.match(/^#bot\/(.+)$/);
  const refresh = m ? () => botPage(decodeURIComponent(m[1])) : fleetPage;
  const tick = async () => {
    try { await refresh(); $("problem").textContent = ""; }
    catch (e) { if (me) $("problem").textContent = e.message; }
    if (me) timer = setTimeout(tick, REFRESH_MS);
  };
  tick();
}

async function fleetPage() {
  show("fleet");
  const slow = Date.now() - lastSlow > SLOW_REFRESH_MS;
  const [list, resources, system, hostHistory] = await Promise.all([
    call("GET", "/api/v1/bots"),
    slow ? call("GET", "/api/v1/resources") : null,
    slow && me.admin ? call("GET", "/api/v1/system") : null,
    slow && me.admin ? call("GET", "/api/v1/system/history?since=1h") : null,
  ]);
  renderBots(list.bots);
  if (resources) renderResources(resources.owners, system);
  if (system) renderHost(system, hostHistory.points);
  if (slow) lastSlow = Date.now();
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function renderBots(bots) {
  $("no-bots").hidden = bots.length > 0;
  $("bots").replaceChildren(...bots.map((b) => {
    const link = el("a", { href: "#bot/" + encodeURIComponent(b.name) },
      el("div", {}, el("span", { class: "name" }, b.name), " ", stateBadge(b.state)),
      el("div", { class: "line" }, (me.admin ? b.owner + " · " : "") +
        "pid " + (b.pid || "-") + " · up " + duration(b.uptime_secs) +
        " · restarts " + b.restarts),
      el("div", { class: "line" }, "CPU " + cpu(b.cpu_percent) + " · mem " + bytes(b.memory_bytes) +
        (b.auth ? " · auth " + b.auth : "") + (b.health !== "none" ? " · health " + b.health : "")));
    return el("li", { class: "card", "data-bot": b.name, "data-pid": String(b.pid || "") }, link);
  }));
}

function recoveryLine(r) {
  const rate = r.success_rate === null ? "-" : Math.round(r.success_rate * 100) + "%";
  const mttr = r.mean_time_to_recovery_ms === null ? "-" : duration(r.mean_time_to_recovery_ms / 1000);
  return "crashes " + r.crashes + " · restarts " + r.restarts + " · forced " + r.forced_restarts +
    " · time to recover " + mttr + " · success " + rate;
}

function renderResources(owners, system) {
  const panels = owners.map((o) => el("div", { class: "panel" },
    el("div", {}, el("b", {}, o.owner), " · " + o.running + " of " + o.bots + " running"),
    el("div", { class: "line" }, "bots " + o.bots + " of " + o.max_bots), bar(o.bots, o.max_bots),
    el("div", { class: "line" }, "storage " + bytes(o.storage_bytes) + " of " + bytes(o.quota_bytes)),
    bar(o.storage_bytes, o.quota_bytes),
    el("div", { class: "line" }, "CPU " + cpu(o.cpu_percent) + " · mem " + bytes(o.memory_bytes)),
    el("div", { class: "line" }, "recovery: " + recoveryLine(o.recovery))));
  if (system) {
    panels.unshift(el("div", { class: "panel" }, el("b", {}, "Fleet"),
      el("div", { class: "line" }, system.running + " of " + system.bots + " running · " + system.failed + " failed"),
      el("div", { class: "line" }, "recovery: " + recoveryLine(system.recovery))));
  }
  $("resources").replaceChildren(...panels);
}

function renderHost(system, points) {
  $("host").hidden = false;
  const h = system.host;
  const a = system.agent_usage;
  const facts = [fact("agent", "pid " + system.agent.pid + ", up " + duration(system.agent.uptime_secs))];
  if (a) facts.push(fact("agent cost", cpu(a.cpu_percent) + ", " + bytes(a.memory_bytes)));
  if (h) {
    facts.push(fact("CPU", cpu(h.cpu_percent)),
      fact("memory", bytes(h.memory_used_bytes) + " of " + bytes(h.memory_total_bytes)),
      fact("disk", bytes(h.disk_used_bytes) + " of " + bytes(h.disk_total_bytes)),
      fact("load", h.load.map((l) => l.toFixed(2)).join(" ")));
  }
  $("host-facts").replaceChildren(...facts);
  graph("host-cpu", points, (p) => p.cpu_percent, cpu);
  graph("host-mem", points, (p) => p.memory_bytes, bytes);
}

async function botPage(name) {
  show("bot");
  const path = "/api/v1/bots/" + encodeURIComponent(name);
  const [d, day, log] = await Promise.all([
    call("GET", path),
    call("GET", path + "/history?since=24h"),
    call("GET", path + "/logs?lines=50"),
  ]);
  const b = d.info;
  $("bot-name").replaceChildren(b.name + " ", stateBadge(b.state));
  $("bot-name").dataset.pid = String(b.pid || "");
  const facts = [fact("owner", b.owner), fact("pid", b.pid || "-"), fact("up", duration(b.uptime_secs)),
    fact("restarts", b.restarts), fact("CPU", cpu(b.cpu_percent)), fact("memory", bytes(b.memory_bytes)),
    fact("health", d.health)];
  if (b.auth) facts.push(fact("auth", b.auth));
  if (b.last_exit) facts.push(fact("last exit", b.last_exit.description));
  if (b.detail) facts.push(fact("note", b.detail));
  $("bot-facts").replaceChildren(...facts);
  graph("cpu-hour", d.history, (p) => p.cpu_percent, cpu);
  graph("mem-hour", d.history, (p) => p.memory_bytes, bytes);
  graph("cpu-day", day.points, (p) => p.cpu_percent, cpu);
  graph("mem-day", day.points, (p) => p.memory_bytes, bytes);
  const r = d.record;
  const mttr = r.mean_time_to_recovery_ms === null ? "-" : duration(r.mean_time_to_recovery_ms / 1000);
  const down = r.crashes + r.limit_restarts + r.health_restarts;
  $("bot-record").replaceChildren(fact("crashes", r.crashes), fact("limit restarts", r.limit_restarts),
    fact("health restarts", r.health_restarts), fact("time to recover", mttr),
    fact("success", down ? Math.round(Math.min(1, r.recoveries / down) * 100) + "%" : "-"));
  $("bot-events").replaceChildren(...d.recent_events.slice().reverse().map((e) =>
    el("li", {}, time(e.ts_ms) + " · " + e.kind + " · " + e.message + (e.actor ? " [by " + e.actor + "]" : ""))));
  $("bot-log").textContent = log.lines.join("\n") || "(empty)";
}

// Actions ------------------------------------------------------------------------------
function ask(action) {
  const m = location.hash.match(/^#bot\/(.+)$/);
  if (!m) return;
  pending = { action, bot: decodeURIComponent(m[1]) };
  $("confirm-text").textContent = action[0].toUpperCase() + action.slice(1) + " " + pending.bot + "?";
  $("confirm").hidden = false;
}

async function confirmed() {
  const p = pending;
  pending = null;
  $("confirm").hidden = true;
  if (!p) return;
  $("action-result").textContent = p.action + " " + p.bot + "…";
  try {
    let text;
    if (p.action === "recover") {
      const r = await call("POST", "/api/v1/recover", { bots: [p.bot] });
      text = r.outcomes.map((o) => o.bot + ": " + o.message).join("; ");
    } else {
      const o = await call("POST", "/api/v1/bots/" + encodeURIComponent(p.bot) + "/" + p.action);
      text = o.bot + ": " + o.message;
    }
    $("action-result").textContent = text;
  } catch (e) {
    $("action-result").textContent = e.message;
  }
  route();
}

// Wiring -----------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try {
    const session = await call("POST", "/session", { token: $("token").value.trim() });
    $("token").value = "";
    signedIn(session);
  } catch (e) {
    $("signin-error").textContent = "Sign-in failed: " + e.message;
  }
});
$("signout").addEventListener("click", async () => {
  try { await call("DELETE", "/session"); } catch (e) { /* already gone */ }
  signedOut();
});
for (const b of document.querySelectorAll("#actions button")) {
  b.addEventListener("click", () => ask(b.dataset.action));
}
$("confirm-yes").addEventListener("click", confirmed);
$("confirm-no").addEventListener("click", () => { pending = null; $("confirm").hidden = true; });
$("plan").addEventListener("click", async () => {
  try {
    const r = await call("POST", "/api/v1/cleanup", { force: false });
    const items = r.plan.items;
    $("plan-out").textContent = items.length
      ? items.map((i) => i.kind + "  " + i.path + "  " + bytes(i.bytes) + "  " + i.reason).join("\n") +
        "\n" + bytes(r.plan.bytes) + " in all (botctl cleanup --force removes it)"
      : "Nothing to clean up.";
  } catch (e) {
    $("plan-out").textContent = e.message;
  }
});
window.addEventListener("hashchange", () => { $("action-result").textContent = ""; route(); });

(async () => {
  try { signedIn(await call("GET", "/session")); } catch (e) { signedOut(); }
})();
