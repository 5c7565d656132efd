// The command hall's big screen: the figures of GET /api/v1/stats, refreshed when the live
// socket says something changed (at most every 2 s) and every 30 s for the clock-driven ones;
// `?kiosk=1` for a wall nobody touches: no controls, no cursor, no login form ever.

import { api, describeError, loadSession, logout, onSessionEnded } from "/static/common/api.js";
import { applyWords, language, loadWords, otherLanguage, setLanguage, t } from "/static/common/i18n.js";
import { jurisdictionName, timeOfDay } from "/static/common/format.js";
import { Live } from "/static/common/live.js";
import { renderOpen, renderSevere, renderTiers, renderToday, renderTowns } from "./panels.js";
import { ScreenMap } from "./mapview.js";
import { renderTrend } from "./trend.js";

const params = new URLSearchParams(location.search);
const kiosk = params.get("kiosk") === "1";
const MIN_GAP_MS = 2000;
const PERIODIC_MS = 30000;
const FRESH_MS = 15000;
const RETRY_MS = 5000;
const SESSION_CHECK_MS = 30000;
const FIGURE_EVENTS = new Set(["task_assigned", "task_accepted", "task_arrived", "task_declined", "task_expired", "task_cancelled"]);

const state = {
  session: null,
  stats: null,
  map: null,
  fresh: new Map(), // incident id → until when it flashes (Date.now() ms)
  serverOffset: 0, // the server's clock minus this machine's: the wall shows the server's time
  lastRefresh: 0,
  timer: null,
  running: false,
  again: false,
  ended: false,
  connected: false,
  live: null,
};

// Figures -------------------------------------------------------------------------------------

function freshIds() {
  const now = Date.now();
  for (const [id, until] of state.fresh) if (until < now) state.fresh.delete(id);
  return new Set(state.fresh.keys());
}

function render() {
  const stats = state.stats;
  if (!stats) return;
  const fresh = freshIds();
  renderToday(stats);
  renderOpen(stats);
  renderTiers(stats);
  renderTowns(stats, state.session.settings.root);
  const bandMoved = renderSevere(stats, fresh);
  renderTrend(document.getElementById("trend-chart"), document.getElementById("trend-legend"), stats.trend);
  if (state.map) {
    if (bandMoved) state.map.fit(); // the band takes the map's top: show the whole area below it
    state.map.shadeTowns(stats);
    state.map.showIncidents(stats.incidents, fresh);
  }
  const truncated = document.getElementById("truncated");
  truncated.hidden = !stats.incidents_truncated;
  truncated.textContent = t("screen.incidents_truncated", { n: stats.incidents.length });
  showAsOf();
}

function showAsOf() {
  if (!state.stats) return;
  const asOf = document.getElementById("as-of");
  asOf.textContent = t("screen.as_of", { time: timeOfDay(state.stats.generated_at) });
  asOf.classList.toggle("stale", document.getElementById("link").dataset.status !== "online");
}

function showProblem(text) {
  const problem = document.getElementById("problem");
  problem.hidden = !text;
  problem.textContent = text || "";
}

async function refresh() {
  if (state.running) {
    state.again = true;
    return;
  }
  state.running = true;
  state.lastRefresh = Date.now();
  try {
    const asked = Date.now();
    const stats = await api("GET", "/api/v1/stats");
    state.serverOffset = Date.parse(stats.generated_at) - (asked + Date.now()) / 2;
    state.stats = stats;
    showProblem(null);
    tick();
    render();
  } catch (err) {
    if (err.status !== 401) showProblem(t("screen.refresh_failed", { error: describeError(err) }));
  } finally {
    state.running = false;
    if (state.again) {
      state.again = false;
      scheduleRefresh();
    }
  }
}

/** Refresh now, or as soon as MIN_GAP_MS has passed since the last one. */
function scheduleRefresh() {
  if (state.timer) return;
  const wait = Math.max(0, state.lastRefresh + MIN_GAP_MS - Date.now());
  state.timer = setTimeout(() => {
    state.timer = null;
    refresh();
  }, wait);
}

function changesFigures(event) {
  if (event.type.startsWith("incident_")) return true;
  if (event.type === "alert_received") return Boolean(event.payload.new_incident);
  return FIGURE_EVENTS.has(event.type);
}

function onEvent(event, { replayed }) {
  if (!changesFigures(event)) return;
  if (event.type === "incident_reported" && !replayed) {
    state.fresh.set(event.incident_id, Date.now() + FRESH_MS);
    if (state.map) {
      const payload = event.payload;
      state.map.addFresh(
        {
          id: event.incident_id,
          severity: payload.severity,
          category: payload.category,
          jurisdiction: payload.jurisdiction_id,
          location: payload.lat !== null && payload.lon !== null ? { lat: payload.lat, lon: payload.lon } : null,
          overdue: false,
        },
        freshIds(),
      );
    }
  }
  scheduleRefresh();
}

/** After a reconnection the figures may miss what time alone changed meanwhile: read them. */
function caughtUp() {
  if (state.connected) scheduleRefresh();
  state.connected = true;
}

// Header ----------------------------------------------------------------------------------------

// Drawn inline: with the link down, an icon fetched from icons.svg now might never arrive.
const LINK_ICONS = {
  online: ["M5 12.6a11 11 0 0 1 14 0", "M1.4 9a16 16 0 0 1 21.2 0", "M8.5 16.1a5 5 0 0 1 7 0", "M12 20h.01"],
  offline: [
    "M1 1l22 22",
    "M16.7 11.1A11 11 0 0 1 19 12.6",
    "M5 12.6a11 11 0 0 1 5.2-2.5",
    "M10.7 5.1A16 16 0 0 1 22.6 9",
    "M1.4 9a16 16 0 0 1 4.7-2.9",
    "M8.5 16.1a5 5 0 0 1 7 0",
    "M12 20h.01",
  ],
};

function linkIcon(online) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  for (const d of LINK_ICONS[online ? "online" : "offline"]) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    for (const [name, value] of Object.entries({ d, fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round" })) {
      path.setAttribute(name, value);
    }
    svg.append(path);
  }
  return svg;
}

function showLink(status) {
  const link = document.getElementById("link");
  link.dataset.status = status;
  link.className = `link-state ${status}`;
  const online = status === "online";
  link.replaceChildren(linkIcon(online), document.createTextNode(t(online ? "common.online" : "common.offline")));
  showAsOf();
}

function tick() {
  const now = new Date(Date.now() + state.serverOffset);
  const zone = state.session?.settings?.timezone;
  const locale = language === "en" ? "en-GB" : "zh-CN";
  document.getElementById("date").textContent = new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    year: "numeric",
    month: "long",
    day: "numeric",
    weekday: "long",
  }).format(now);
  document.getElementById("time").textContent = new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(now);
}

function showTitle() {
  const session = state.session;
  const place = jurisdictionName(session.user.jurisdiction || session.settings.root);
  const title = t("screen.title_of", { place });
  document.getElementById("title").textContent = title;
  document.title = `${title} · ${t("app.name")}`;
}

function relabel() {
  showTitle();
  showLink(document.getElementById("link").dataset.status || "connecting");
  if (state.map) state.map.legend(document.getElementById("legend"));
  tick();
  render();
}

// Kiosk: the session's end is a message on the wall, and it looks again by itself --------------

function sessionEnded() {
  if (state.ended) return;
  state.ended = true;
  if (state.live) state.live.stop();
  const endedAt = new Date(Date.now() + state.serverOffset).toISOString();
  document.getElementById("ended-body").textContent = t("screen.ended_body", { path: "/screen/?kiosk=1" });
  document.getElementById("ended-at").textContent = t("screen.ended_at", { time: timeOfDay(endedAt) });
  document.getElementById("ended").hidden = false;
  setInterval(checkSessionBack, SESSION_CHECK_MS);
}

async function checkSessionBack() {
  try {
    await api("GET", "/api/v1/session");
    location.reload(); // someone logged the screen in again
  } catch {
    // still ended
  }
}

// Start -----------------------------------------------------------------------------------------

async function start() {
  if (["zh-CN", "en"].includes(params.get("lang"))) localStorage.setItem("dispatch.language", params.get("lang"));
  if (kiosk) {
    document.body.classList.add("kiosk");
    onSessionEnded(sessionEnded);
  }
  await loadWords(); // first: a kiosk whose session ended says so in words
  applyWords();
  state.session = await loadSession({ roles: ["screen", "dispatcher", "admin"] });
  await loadWords(state.session.settings.language);
  applyWords();
  showTitle();
  showLink("connecting");
  tick();
  setInterval(tick, 1000);

  if (!kiosk) {
    const button = document.getElementById("language");
    button.addEventListener("click", () => setLanguage(otherLanguage()));
    document.getElementById("logout").addEventListener("click", logout);
  }
  window.addEventListener("languagechange", relabel);

  state.map = new ScreenMap(document.getElementById("map"), state.session.settings.map);
  state.map.legend(document.getElementById("legend"));
  await Promise.all([state.map.ready(), refresh()]);
  render();
  // From the figures' own last event on: what commits after that read is replayed, never lost.
  state.live = new Live({ onEvent, onStatus: showLink, onResumed: caughtUp, lastSeq: state.stats?.last_seq || 0 });
  state.live.start();
  setInterval(scheduleRefresh, PERIODIC_MS);
  window.addEventListener("resize", () => {
    state.map.fit();
    render();
  });
}

async function main() {
  try {
    await start();
  } catch (err) {
    if (state.ended || err.status === 401) return;
    // A wall that started while the server was away keeps trying; a person gets the reason.
    showProblem(`${t("screen.connecting")} ${describeError(err)}`);
    if (kiosk) setTimeout(() => location.reload(), RETRY_MS);
  }
}

main();
