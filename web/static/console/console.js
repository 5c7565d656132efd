// The dispatcher console: a live queue of the dispatcher's subtree beside the map, the incident
// detail with every action, announcements of what needs a decision, all from /api and /ws.

import { api, describeError, loadSession, logout } from "/static/common/api.js";
import { applyWords, language, loadWords, otherLanguage, setLanguage, t } from "/static/common/i18n.js";
import { categoryName, departmentName, h, icon, jurisdictionName, townOf } from "/static/common/format.js";
import { Live } from "/static/common/live.js";
import { Actions } from "./actions.js";
import { Announcer } from "./announce.js";
import { Coordination } from "./coordination.js";
import { Detail } from "./detail.js";
import { ConsoleMap } from "./mapview.js";
import { OPEN_STATES, Queue, WAITING_STATES, listQuery, matches } from "./queue.js";

const REFRESH_AFTER_MS = 1200;
const REFRESH_EVERY_MS = 30000;
const SUGGESTIONS = 8;
const OVERDUE_GRACE_MS = 5000; // the server's scheduler acts at the deadline: after that it is behind

const state = {
  session: null,
  myNode: null,
  department: null,
  incidents: new Map(),
  total: 0,
  units: new Map(),
  filters: { state: "open", tier: "", town: "", category: "", severity: "", search: "" },
  openedId: null,
  opened: null,
  loading: null,
  suggestions: [],
  overdueAnnounced: new Set(),
};
let queue;
let map;
let detail;
let actions;
let announcer;
let live;
let coordination;

const $ = (id) => document.getElementById(id);

async function main() {
  const session = await loadSession({ roles: ["dispatcher", "admin"] });
  state.session = session;
  state.myNode = session.user.jurisdiction || session.settings.root;
  state.department = session.user.department ?? session.user.department_id ?? null;
  await loadWords(session.settings.language);
  applyWords();
  header();
  filters();
  queue = new Queue($("queue"), { onPick: pick, onOpen: openIncident });
  map = new ConsoleMap($("map"), session.settings.map, { onPickIncident: (id) => (queue.pick(id), openIncident(id)), onAssign: assignFromMap });
  detail = new Detail($("detail"), {
    onAction: act,
    onCancelTask: cancelTask,
    onClose: closeDetail,
    desk: state.department,
    onWorkPart: (part, trigger) => coordination.tasks.act(part, trigger),
    instructions: {
      dialog: $("action-dialog"),
      onAcknowledge: (each) => coordination.instructions.send(each).catch((err) => notice(describeError(err))),
      onDone: (id) => (notice(t("dialog.done", { action: t("instruction.instruct") }), "ok"), loadDetail(id)),
    },
  });
  actions = new Actions($("action-dialog"), { onDone: afterAction, catalog: session.catalog });
  announcer = new Announcer($("announcements"), { onOpen: (id) => (queue.pick(id), openIncident(id)) });
  coordination = new Coordination({
    department: state.department,
    center: state.myNode,
    incidentOf: (id) => state.incidents.get(id),
    onOpen: (id) => (queue.pick(id), openIncident(id)),
    announcer,
    notice,
  });
  detail.empty();
  keyboard();
  await map.ready();
  await Promise.all([refresh(), loadUnits(), coordination.start()]);
  live = new Live({ onEvent, onFrame, onStatus: showLink, onResumed: () => (scheduleRefresh(), coordination.resumed()) });
  live.start();
  setInterval(tick, 1000);
  setInterval(() => refresh(), REFRESH_EVERY_MS);
  setInterval(() => loadUnits(), REFRESH_EVERY_MS);
  window.addEventListener("languagechange", () => {
    header();
    filters();
    render();
    coordination.render();
    if (state.opened) renderDetail();
  });
}

// Header, filters, export -------------------------------------------------------------------

function header() {
  const { session } = state;
  const desk = state.department ? t("subcenter.desk", { name: departmentName(state.department) }) : t("console.center", { name: jurisdictionName(state.myNode) });
  $("who").textContent = `${session.user.name} · ${desk}`;
  $("language").textContent = otherLanguage() === "en" ? "English" : "中文";
  $("language").onclick = () => setLanguage(otherLanguage());
  $("logout").onclick = logout;
  $("export").onclick = openExport;
  const sound = $("sound");
  const showSound = () => {
    sound.replaceChildren(icon(announcer?.soundOn === false ? "sound-off" : "sound"), " ", t(announcer?.soundOn === false ? "console.sound_off" : "console.sound_on"));
    sound.setAttribute("aria-pressed", String(announcer?.soundOn !== false));
  };
  sound.onclick = () => {
    announcer.setSound(!announcer.soundOn);
    showSound();
  };
  setTimeout(showSound);
  showLink(live?.status || "connecting");
  $("keys").textContent = state.department ? t("subcenter.keys") : t("console.keys"); // a desk neither assigns nor resolves
}

function showLink(status) {
  const link = $("link");
  link.className = `link-state ${status}`;
  link.replaceChildren(icon(status === "online" ? "wifi" : "wifi-off"), " ", t(status === "online" ? "common.online" : "common.offline"));
}

function filters() {
  const { catalog } = state.session;
  const scope = state.session.user.jurisdiction;
  const towns = catalog.jurisdictions.filter((each) => each.tier === "town" && (!scope || scope === each.id || townOf(scope) === null || townOf(scope) === each.id));
  const setOptions = (id, options) => {
    const element = $(id);
    const value = element.value;
    element.replaceChildren(...options.map(([v, text]) => h("option", { value: v }, text)));
    element.value = options.some(([v]) => String(v) === value) ? value : options[0][0];
  };
  setOptions("filter-state", [["open", t("filter.state.open")], ["all", t("filter.state.all")], ...["reported", "verifying", "dispatched", "responding", "on_scene", "resolved", "closed", "cancelled", "merged"].map((s) => [s, t(`incident_state.${s}`)])]);
  setOptions("filter-tier", [["", t("filter.any")], ...["city", "town", "street"].map((tier) => [tier, t(`tier.${tier}`)])]);
  setOptions("filter-town", [["", t("filter.any")], ...towns.map((each) => [each.id, each.name])]);
  setOptions("filter-category", [["", t("filter.any")], ...catalog.categories.map((each) => [each.id, categoryName(each.id)])]);
  setOptions("filter-severity", [["", t("filter.any")], ...[1, 2, 3].map((s) => [s, t("filter.severity_at_most", { grade: t(`severity_short.${s}`) })]), [4, t("severity_short.4")]]);
  for (const name of ["state", "tier", "town", "category", "severity"]) {
    $(`filter-${name}`).onchange = (changed) => {
      state.filters[name] = changed.target.value;
      refresh();
    };
  }
  $("search").oninput = (typed) => {
    state.filters.search = typed.target.value;
    render();
  };
}

function openExport() {
  const dialog = $("action-dialog");
  const today = new Date();
  const day = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  const since = h("input", { type: "date", id: "export-since", value: day(today), required: true });
  const until = h("input", { type: "date", id: "export-until", value: day(today), required: true });
  const form = h(
    "form",
    { class: "action-form" },
    h("h2", {}, t("export.title")),
    h("div", { class: "field" }, h("label", { for: "export-since" }, t("export.since")), since),
    h("div", { class: "field" }, h("label", { for: "export-until" }, t("export.until")), until),
    h("div", { class: "dialog-buttons" }, h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("common.cancel")), h("button", { type: "submit", class: "primary" }, t("export.submit"))),
  );
  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    // Local midnights, sent with their offset: the period the dispatcher means.
    const start = new Date(`${since.value}T00:00:00`);
    const end = new Date(`${until.value}T00:00:00`);
    end.setDate(end.getDate() + 1);
    const query = new URLSearchParams({ since: start.toISOString(), until: end.toISOString(), lang: language });
    dialog.close();
    const link = h("a", { href: `/api/v1/reports/incidents.csv?${query}`, download: "" });
    document.body.append(link);
    link.click();
    link.remove();
  });
  dialog.replaceChildren(form);
  dialog.showModal();
  since.focus();
}

// The queue --------------------------------------------------------------------------------

let refreshTimer = null;
let refreshing = false;

/** Reload the list from the server (filters applied there), keeping live rows' freshness marks. */
async function refresh() {
  if (refreshing) {
    scheduleRefresh();
    return;
  }
  refreshing = true;
  try {
    const answer = await api("GET", `/api/v1/incidents?${listQuery(state.filters)}`);
    const fresh = new Set([...state.incidents.values()].filter((each) => each._fresh).map((each) => each.id));
    state.incidents = new Map(answer.incidents.map((each) => [each.id, { ...each, _fresh: fresh.has(each.id) }]));
    state.total = answer.total;
    render();
  } catch (err) {
    if (err.status !== 401) console.warn("refresh failed", describeError(err));
  } finally {
    refreshing = false;
  }
}

/** At most one reload per REFRESH_AFTER_MS however many events arrive (a flood never starves it). */
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, REFRESH_AFTER_MS);
}

function visible() {
  return [...state.incidents.values()].filter((each) => matches(each, state.filters)).sort((a, b) => b.id - a.id);
}

function render() {
  const shown = visible();
  queue.opened = state.openedId;
  queue.render(shown);
  map.showIncidents(shown);
  const open = shown.filter((each) => OPEN_STATES.includes(each.state));
  $("shown").textContent = t("filter.shown", { shown: shown.length, total: Math.max(state.total, shown.length) });
  $("open-count").textContent = t("console.open_count", { n: open.length });
  $("incidents-count").textContent = String(open.length);
  const overdue = open.filter((each) => WAITING_STATES.includes(each.state) && each.deadline_at && Date.parse(each.deadline_at) < Date.now()).length;
  $("overdue-count").textContent = t("console.overdue_count", { n: overdue });
  $("overdue-count").classList.toggle("bad", overdue > 0);
}

function tick() {
  const now = Date.now();
  queue.tick(now);
  coordination.tick(now);
  for (const incident of state.incidents.values()) {
    if (!WAITING_STATES.includes(incident.state) || !incident.deadline_at) continue;
    const key = `${incident.id}@${incident.deadline_at}`;
    const late = now - Date.parse(incident.deadline_at) > OVERDUE_GRACE_MS;
    if (late && !state.overdueAnnounced.has(key) && mine(incident)) {
      state.overdueAnnounced.add(key);
      announcer.announce("overdue", incident);
      render();
    }
  }
}

/** Whether the incident is this center's to act on (owned here; a sub-center owns none). */
function mine(incident) {
  return !state.department && incident.owner.jurisdiction === state.myNode;
}

function pick(id) {
  map.select(state.incidents.get(id));
}

// Live events ------------------------------------------------------------------------------

const STATE_OF = {
  incident_verifying: "verifying",
  incident_dispatched: "dispatched",
  incident_assigned: "dispatched",
  incident_responding: "responding",
  incident_on_scene: "on_scene",
  incident_resolved: "resolved",
  incident_closed: "closed",
  incident_reopened: "verifying",
  incident_cancelled: "cancelled",
  incident_merged: "merged",
};

function onEvent(event) {
  const p = event.payload || {};
  let incident = state.incidents.get(event.incident_id);
  if (event.type === "incident_reported") {
    incident = {
      id: event.incident_id,
      category: p.category,
      severity: p.severity,
      state: "reported",
      title: p.title,
      location: p.lat !== null && p.lat !== undefined ? { lat: p.lat, lon: p.lon } : null,
      jurisdiction: p.jurisdiction_id,
      outside_area: p.outside_area,
      owner: { jurisdiction: p.owner_jurisdiction_id, tier: p.owner_tier },
      departments: p.departments,
      alert_count: 0,
      channels: {},
      deadline_at: null,
      created_at: event.occurred_at,
      _fresh: true,
    };
    state.incidents.set(incident.id, incident);
    if (matches(incident, state.filters)) announcer.announce("new", incident);
    setTimeout(() => {
      incident._fresh = false;
    }, 8000);
  } else if (incident) {
    if (event.type === "alert_received") {
      incident.alert_count = p.alert_count;
      incident.channels = { ...incident.channels, [p.kind]: (incident.channels[p.kind] || 0) + 1 };
    } else if (STATE_OF[event.type]) {
      incident.state = p.to_state || STATE_OF[event.type];
    } else if (event.type === "incident_escalated" || event.type === "incident_delegated") {
      incident.owner = { jurisdiction: p.to_jurisdiction_id, tier: p.to_tier };
    } else if (event.type === "incident_severity_raised") {
      incident.severity = p.to_severity;
    } else if (event.type === "incident_department_added" || event.type === "incident_department_removed") {
      incident.departments = p.departments;
    }
  }
  const center = !state.department; // a sub-center's desk is told of its department's tasks instead
  if (center && event.type === "incident_escalated" && p.to_jurisdiction_id === state.myNode) announcer.announce("escalated", incident || stub(event));
  if (event.type === "incident_notified" && (p.jurisdiction_ids || []).includes(state.myNode)) announcer.announce("notified", incident || stub(event));
  if (center && event.type === "incident_unanswered" && p.owner_jurisdiction_id === state.myNode) announcer.announce("unanswered", incident || stub(event));
  if (event.type.startsWith("task_")) scheduleUnits();
  coordination.onEvent(event);
  if (event.incident_id === state.openedId) scheduleDetail();
  renderSoon();
  scheduleRefresh(); // deadlines and counts come from the server
}

let renderPending = false;
/** One render per frame however many events a commit brought. */
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function stub(event) {
  return { id: event.incident_id, severity: 4, category: "", jurisdiction: "" };
}

function onFrame(frame) {
  if (frame.type === "positions") map.moveUnits(frame.positions);
}

let unitsTimer = null;
function scheduleUnits() {
  if (unitsTimer) return;
  unitsTimer = setTimeout(() => {
    unitsTimer = null;
    loadUnits();
  }, 800);
}

async function loadUnits() {
  try {
    const answer = await api("GET", "/api/v1/responders");
    state.units = new Map(answer.responders.map((unit) => [unit.id, unit]));
    map.showUnits(answer.responders);
  } catch (err) {
    if (err.status !== 401) console.warn("units failed", describeError(err));
  }
}

// The detail -------------------------------------------------------------------------------

let detailTimer = null;
function scheduleDetail() {
  if (detailTimer) return;
  detailTimer = setTimeout(() => {
    detailTimer = null;
    if (state.openedId) loadDetail(state.openedId);
  }, 300);
}

async function openIncident(id) {
  state.openedId = id;
  document.body.classList.add("detail-open");
  queue.opened = id;
  queue.mark();
  state.loading = loadDetail(id);
  await state.loading;
  $("detail").focus({ preventScroll: true });
}

async function loadDetail(id) {
  try {
    const [incident, suggestions] = await Promise.all([
      api("GET", `/api/v1/incidents/${id}`),
      api("GET", `/api/v1/incidents/${id}/suggestions?limit=${SUGGESTIONS}`),
    ]);
    if (state.openedId !== id) return;
    state.opened = incident;
    state.suggestions = suggestions.responders;
    const known = state.incidents.get(id);
    if (known) Object.assign(known, incident, { _fresh: known._fresh });
    map.canAssign = incident.triggers.includes("assign");
    renderDetail();
    render();
  } catch (err) {
    $("detail").replaceChildren(h("p", { class: "form-error", role: "alert" }, describeError(err)));
  }
}

function renderDetail() {
  detail.render(state.opened, { suggestions: state.suggestions, units: state.units });
}

function closeDetail() {
  state.openedId = null;
  state.opened = null;
  document.body.classList.remove("detail-open");
  detail.empty();
  render();
  $("queue").focus();
}

/** A button (or key) for a trigger: the dialog, or at once the words of what is allowed instead. */
async function act(trigger, extra = {}) {
  const incident = state.opened;
  if (!incident) return;
  if (!incident.triggers.includes(trigger)) {
    const allowed = incident.triggers.map((each) => t(`incident_trigger.${each}`));
    notice(`${t(`incident_trigger.${trigger}`)}：${t("error.illegal_transition")} — ${allowed.length ? t("error.allowed", { allowed: allowed.join("、") }) : t("error.none_allowed")}`);
    return;
  }
  let suggestions = state.suggestions;
  if (extra.responder && !suggestions.some((unit) => unit.id === extra.responder)) {
    suggestions = (await api("GET", `/api/v1/incidents/${incident.id}/suggestions?limit=100`)).responders;
  }
  actions.open(trigger, incident, {
    suggestions,
    preselect: extra.responder,
    task: extra.task,
    units: state.units,
    openIncidents: visible().filter((each) => OPEN_STATES.includes(each.state) && each.category === incident.category),
  });
}

function cancelTask(task) {
  actions.cancelTask(state.opened, task, state.units.get(task.responder_id)?.name || task.responder_id);
}

function assignFromMap(unitId) {
  if (state.opened) act("assign", { responder: unitId });
}

function afterAction(incidentId, trigger) {
  notice(t("dialog.done", { action: t(`incident_trigger.${trigger}`, { fallback: t("task.cancel") }) }), "ok");
  loadDetail(incidentId);
  scheduleRefresh();
  scheduleUnits();
}

let noticeTimer = null;
function notice(text, kind = "bad") {
  const element = $("notice");
  element.textContent = text;
  element.className = `notice ${kind}`;
  element.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (element.hidden = true), 8000);
}

// Keyboard ---------------------------------------------------------------------------------

function keyboard() {
  document.addEventListener("keydown", (pressed) => {
    if ($("action-dialog").open) return; // the dialog has the keys (Esc closes it)
    const typing = pressed.target.closest("input, textarea, select");
    if (pressed.key === "/" && !typing) {
      pressed.preventDefault();
      $("search").focus();
      return;
    }
    if (typing) {
      if (pressed.key === "Escape") pressed.target.blur();
      if (pressed.key === "ArrowDown" && pressed.target.id === "search") {
        pressed.preventDefault();
        $("queue").focus();
        queue.move(0);
      }
      return;
    }
    if (pressed.ctrlKey || pressed.metaKey || pressed.altKey) return;
    const key = pressed.key.length === 1 ? pressed.key.toLowerCase() : pressed.key;
    const handlers = {
      ArrowDown: () => queue.move(1),
      ArrowUp: () => queue.move(-1),
      Enter: () => queue.cursor !== null && openIncident(queue.cursor),
      Escape: () => state.openedId && closeDetail(),
      a: () => withOpened("assign"),
      e: () => withOpened("escalate"),
      r: () => withOpened("resolve"),
    };
    const handler = handlers[key];
    if (!handler) return;
    if (pressed.target.closest("button, a") && key === "Enter") return; // Enter on a button presses it
    pressed.preventDefault();
    handler();
  });
}

/** A, E, R act on the open incident, or on the one under the cursor (opening it first). */
async function withOpened(trigger) {
  if (queue.cursor !== null && queue.cursor !== state.openedId) await openIncident(queue.cursor);
  await state.loading; // a key pressed while the detail is still loading acts once it is there
  if (state.opened && state.opened.id === state.openedId) act(trigger);
}

main().catch((err) => {
  if (err && err.message !== "wrong screen for this role") console.error(err);
});
