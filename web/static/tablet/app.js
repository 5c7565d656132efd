// The responder tablet app: a new task rings until acknowledged; the card shows what, where, how
// far and how long is left; every action is stored on the device first and sent when there is
// signal, so a lost connection loses nothing. Live by /ws, resumed after each reconnect.

import { ApiError, adoptSession, api, describeError, loadSession, logout } from "/static/common/api.js";
import { applyWords, loadWords, otherLanguage, setLanguage, t } from "/static/common/i18n.js";
import { Live } from "/static/common/live.js";
import { h, icon, timeOfDay } from "/static/common/format.js";
import { Store } from "./store.js";
import { TaskBook, UNANSWERED, WORKING, expectedState } from "./tasks.js";
import { Outbox, requestId } from "./outbox.js";
import { Ringer } from "./ring.js";
import { PositionSharing } from "./position.js";
import { TaskMap } from "./mapview.js";
import { askComplete, askDecline, fill, renderCard, renderList, renderOverlay, tick, unchanged } from "./view.js";

const ANSWER_WITHIN_MS = 15000;
const DATA_CACHE = "tablet-data"; // the service worker's copy of the map's polygons (sw.js)
const $ = (id) => document.getElementById(id);

const app = {
  session: null,
  store: null,
  book: new TaskBook(),
  outbox: null,
  live: null,
  ringer: new Ringer(),
  position: null,
  map: null,
  selectedId: null,
  onDuty: false,
  /** Tasks acknowledged on this device (accepted, declined or viewed): they ring no more. */
  seen: new Set(),
  /** Task id → its last refused action, in words. */
  refusals: new Map(),
  /** Tasks taken back while they rang or were worked on: {task, kind}, shown one by one. */
  notices: [],
  /** Tasks whose receipt went out on the current socket. */
  receipts: new Set(),
  link: "connecting",
  startedOffline: null, // started without signal: when the tasks shown were saved on the device
  refreshing: null,
  refreshAgain: false, // a refresh was asked for while one was in flight
};

/** Wait for a promise at most `ms`; a socket that stays silent counts as no answer. */
function within(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer in time")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Start ---------------------------------------------------------------------------------------

async function main() {
  registerWorker();
  app.store = await Store.open();
  const session = await startSession();
  if (!session) return;
  app.session = session;
  app.seen = new Set((await app.store.get("seen")) || []);
  app.onDuty = Boolean(await app.store.get("on_duty"));
  app.outbox = new Outbox(app.store, {
    send: (action) => within(app.live.request(triggerMessage(action)), ANSWER_WITHIN_MS),
    onAnswer: (action, result) => {
      app.refusals.delete(action.task_id);
      if (result.task) app.book.applyAnswer(result.task);
      saveSnapshot();
    },
    onRefused: (action, error) => {
      const why = describeError(new ApiError(409, { error }));
      app.refusals.set(action.task_id, t("tablet.refused", { action: t(`task_trigger.${action.trigger}`), why }));
    },
    onChange: render,
  });
  await app.outbox.load();
  const kept = await app.store.get("snapshot");
  if (kept) app.book.merge(kept.tasks, kept.seq);
  if (!(await refreshTasks()) && kept) app.startedOffline = kept.saved_at;

  app.position = new PositionSharing({
    send: (lat, lon) => app.live.send({ type: "position", lat, lon }),
    onChange: render,
  });
  app.map = new TaskMap($("map"), session.settings.map, {
    onPick: (point) => {
      setPicking(false);
      app.position.setByHand(point.lat, point.lon);
    },
  });
  app.map.drawAreas().then(render);
  app.ringer.onAudio = () => renderHeader();
  wireControls();
  if (app.onDuty) app.position.watch();

  app.live = new Live({
    lastSeq: app.book.seq,
    onEvent: onEvent,
    onStatus: (status) => {
      app.link = status;
      if (status !== "online") app.receipts.clear();
      render();
    },
    onResumed: onResumed,
  });
  app.link = app.live.status;
  app.live.start();
  $("starting").hidden = true;
  render();
  setInterval(() => tick(), 1000);
}

/** The session from the server, or (no signal) the one kept on this device. */
async function startSession() {
  let session;
  try {
    session = await loadSession({ roles: ["responder"] });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 0) return null; // sent to the login page
    const kept = await app.store.get("session");
    if (!kept) {
      await showFatal("tablet.offline_no_data");
      return null;
    }
    session = adoptSession(kept);
  }
  const owner = await app.store.get("owner");
  if (owner && owner !== session.user.name) await app.store.clear(); // another person's device data
  await app.store.put("owner", session.user.name);
  // Kept for a start without signal: names and settings, never the CSRF token.
  const { csrf_token: _token, ...keep } = session;
  await app.store.put("session", keep);
  try {
    await loadWords(session.settings.language);
  } catch {
    await showFatal("tablet.offline_no_data");
    return null;
  }
  applyWords();
  return session;
}

async function showFatal(key) {
  const starting = $("starting");
  try {
    await loadWords();
    starting.textContent = t(key);
  } catch {
    starting.textContent = "离线，且本机没有保存的数据：请联网后再打开。 / Offline with nothing kept on this device.";
  }
  starting.classList.add("fatal");
}

function registerWorker() {
  if (!("serviceWorker" in navigator)) {
    document.body.dataset.worker = "unavailable"; // not a secure context: the notice says so
    return;
  }
  navigator.serviceWorker
    .register("/tablet/sw.js", { scope: "/tablet/" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      document.body.dataset.worker = "ready";
    })
    .catch(() => {
      document.body.dataset.worker = "failed";
    });
}

// Tasks from the server ---------------------------------------------------------------------------

/**
 * GET /api/v1/tasks: the whole list (and the place words a live event lacks); false without signal.
 * Asked again while one is in flight, it runs once more after it: the list in flight may have
 * been read before the task that asks for it was assigned.
 */
function refreshTasks() {
  if (app.refreshing) {
    app.refreshAgain = true;
    return app.refreshing;
  }
  app.refreshAgain = false;
  app.refreshing = api("GET", "/api/v1/tasks")
    .then((answer) => {
      app.book.merge(answer.tasks, answer.last_seq);
      app.startedOffline = null;
      saveSnapshot();
      render();
      return true;
    })
    .catch(() => false)
    .finally(() => {
      app.refreshing = null;
      if (app.refreshAgain) refreshTasks();
    });
  return app.refreshing;
}

function onEvent(event) {
  const before = app.book.get(event.task_id);
  const wasRinging = before ? ringing().includes(before) : false;
  const wasOpen = before ? UNANSWERED.includes(before.state) || WORKING.includes(before.state) : false;
  const touched = app.book.applyEvent(event, event.seq);
  saveSnapshot();
  if (!touched) return;
  const { task, assigned } = touched;
  if (assigned) refreshTasks(); // the card's place words and notes come with the list
  if ((event.type === "task_cancelled" && wasOpen) || (event.type === "task_expired" && wasRinging)) {
    app.notices.push({ task, kind: event.type === "task_cancelled" ? "cancelled" : "expired" });
    app.seen.add(task.id);
  }
  render();
}

function onResumed() {
  if (!app.session.csrf_token) {
    loadSession({ roles: ["responder"] }).then((session) => (app.session = session)).catch(() => {});
  }
  refreshTasks();
  app.outbox.flush();
  app.position.share();
  render();
}

function triggerMessage(action) {
  const message = { type: "trigger", id: action.id, task_id: action.task_id, trigger: action.trigger };
  if (action.note) message.note = action.note;
  return message;
}

/** The receipt of every task the tablet shows that the server does not know it has yet. */
function sendReceipts() {
  if (app.link !== "online") return;
  for (const task of app.book.tasks.values()) {
    if (!["pending", "sent"].includes(task.state) || app.receipts.has(task.id)) continue;
    app.receipts.add(task.id);
    within(app.live.request({ type: "receipt", task_id: task.id, id: requestId() }), ANSWER_WITHIN_MS)
      .then((result) => {
        if (result.ok && result.task) {
          app.book.applyAnswer(result.task);
          saveSnapshot();
          render();
        }
      })
      .catch(() => app.receipts.delete(task.id)); // again on the next socket
  }
}

/**
 * Keep the tasks and the seq they reflect on the device (a reload without signal starts from
 * them). At once, not debounced: a reload right after an event must still find it.
 */
function saveSnapshot() {
  const snapshot = { ...app.book.snapshot(), saved_at: new Date().toISOString() };
  app.store.put("snapshot", snapshot).catch(() => {});
  const known = [...app.seen].filter((id) => app.book.get(id));
  app.store.put("seen", known).catch(() => {});
}

// Acting --------------------------------------------------------------------------------------------

function expected(task) {
  return expectedState(task, app.outbox.forTask(task.id));
}

/** Tasks that ring: unanswered (queued answers included) and not yet viewed on this device. */
function ringing() {
  return app.book
    .list()
    .filter((task) => UNANSWERED.includes(expected(task)) && !app.seen.has(task.id))
    .reverse(); // the oldest first: its deadline is nearest
}

function markSeen(taskId) {
  app.seen.add(taskId);
  saveSnapshot();
}

async function act(task, trigger) {
  app.ringer.unlock();
  let note = null;
  if (trigger === "decline" || trigger === "complete") {
    note = await (trigger === "decline" ? askDecline($("ask")) : askComplete($("ask")));
    if (note === null) return;
  }
  if (trigger === "accept" || trigger === "decline") markSeen(task.id);
  app.refusals.delete(task.id);
  app.selectedId = task.id;
  await app.outbox.add(task.id, trigger, note);
}

function setPicking(on) {
  app.map.setPicking(on);
  $("here").setAttribute("aria-pressed", String(on));
  renderWhereabouts();
}

function wireControls() {
  $("duty").addEventListener("click", async () => {
    app.ringer.unlock();
    app.onDuty = !app.onDuty;
    await app.store.put("on_duty", app.onDuty);
    if (app.onDuty) app.position.watch();
    else app.position.unwatch();
    render();
  });
  $("sound").addEventListener("click", () => app.ringer.unlock());
  // Any first tap lets the browser start the ring's audio. On click, not pointerdown: the header
  // changes when audio starts, and a change under the finger before it lifts would lose the tap.
  document.addEventListener("click", () => app.ringer.unlock(), { once: true, capture: true });
  $("language").addEventListener("click", () => setLanguage(otherLanguage()));
  window.addEventListener("languagechange", render);
  $("logout").addEventListener("click", async () => {
    if (app.outbox.count && !window.confirm(t("tablet.logout_pending", { n: app.outbox.count }))) return;
    await app.store.clear();
    if ("caches" in window) await caches.delete(DATA_CACHE);
    await logout();
  });
  $("here").addEventListener("click", () => setPicking(!app.map.picking));
  $("task-place").addEventListener("click", () => {
    const place = app.book.get(app.selectedId)?.place?.location;
    if (!place) return;
    setPicking(false);
    app.position.setByHand(place.lat, place.lon);
  });
  // The overlay stays until the responder answers: Escape does not close it (and if the
  // browser closes it anyway, the next drawing opens it again).
  $("overlay").addEventListener("cancel", (cancelled) => cancelled.preventDefault());
  $("overlay").addEventListener("close", () => {
    $("overlay").shownKey = null;
    render();
  });
  window.addEventListener("keydown", (pressed) => {
    if (pressed.key === "Escape" && app.map.picking) setPicking(false);
  });
}

// Drawing -------------------------------------------------------------------------------------------

function render() {
  if (!app.live) return;
  const tasks = app.book.list();
  if (!app.book.get(app.selectedId)) app.selectedId = tasks[0]?.id ?? null;
  const selected = app.book.get(app.selectedId) || null;
  const ctx = {
    queued: (id) => app.outbox.forTask(id),
    expected,
    refusal: (id) => app.refusals.get(id) || null,
    own: app.position.own,
    selectedId: app.selectedId,
    select: (id) => {
      app.selectedId = id;
      render();
    },
    act,
  };
  renderHeader();
  renderList($("list"), tasks, ctx);
  renderCard($("card"), selected, ctx);
  app.map.show(selected, app.position.own);
  $("task-place").disabled = !selected?.place?.location;
  renderWhereabouts();
  renderAlerting(ctx);
  sendReceipts();
}

function renderAlerting(ctx) {
  const ring = ringing();
  const notice = app.notices[0];
  const entry = notice || (ring.length ? { task: ring[0], kind: "new", more: ring.length - 1 } : null);
  renderOverlay($("overlay"), entry, ctx, {
    soundLocked: !app.ringer.audible,
    onAccept: () => act(entry.task, "accept"),
    onView: () => {
      markSeen(entry.task.id);
      app.selectedId = entry.task.id;
      render();
    },
    onDismiss: () => {
      app.notices.shift();
      render();
    },
  });
  if (ring.length) app.ringer.start();
  else app.ringer.stop();
  document.body.dataset.ringing = String(app.ringer.ringing);
}

function renderHeader() {
  const { user } = app.session;
  document.title = `${t("app.tablet")} · ${t("tablet.product")}`;
  $("unit").textContent = user.unit_name || user.responder || "";
  $("user").textContent = user.name;
  const duty = $("duty");
  if (!unchanged(duty, app.onDuty)) {
    duty.setAttribute("aria-pressed", String(app.onDuty));
    fill(duty, icon(app.onDuty ? "check" : "clock"), t(app.onDuty ? "tablet.on_duty" : "tablet.start_duty"));
  }

  const online = app.link === "online";
  const link = $("link");
  if (!unchanged(link, app.link)) {
    link.className = `link-state ${app.link}`;
    fill(link, icon(online ? "wifi" : "wifi-off"), t(online ? "common.online" : "common.offline"));
  }
  document.body.dataset.link = app.link;

  const count = app.outbox.count;
  const outbox = $("outbox-count");
  outbox.hidden = count === 0;
  if (!unchanged(outbox, count)) fill(outbox, icon("wifi-off"), t("tablet.pending_n", { n: count }));

  const offline = $("offline");
  offline.hidden = online || app.link === "connecting";
  if (!unchanged(offline, app.startedOffline)) {
    fill(
      offline,
      icon("wifi-off"),
      h("b", {}, t("common.offline")),
      " ",
      t("tablet.offline_banner"),
      app.startedOffline ? h("span", { class: "kept" }, ` ${t("tablet.offline_kept", { time: timeOfDay(app.startedOffline) })}`) : null,
    );
  }

  const sound = $("sound");
  sound.hidden = app.ringer.audible;
  if (!unchanged(sound)) fill(sound, icon("sound-off"), t("tablet.tap_for_sound"));
  document.body.dataset.audio = app.ringer.audible ? "on" : "off";

  $("language").textContent = otherLanguage() === "en" ? "English" : "中文";
  $("logout").disabled = !online;
  $("logout").title = online ? "" : t("tablet.logout_offline");
  renderNotice();
}

/** Why the position (or the offline mode) cannot work here, and what to do instead. */
function renderNotice() {
  const notice = $("notice");
  let key = null;
  if (!window.isSecureContext) key = "tablet.geo.insecure";
  else if (app.onDuty && app.position.problem) key = `tablet.geo.${app.position.problem}`;
  notice.hidden = key === null;
  if (key && !unchanged(notice, key)) fill(notice, icon("alarm"), t(key));
}

function renderWhereabouts() {
  const here = $("here");
  if (!unchanged(here, app.map.picking)) fill(here, icon("pin"), t(app.map.picking ? "tablet.here_picking" : "tablet.here"));
  if (!unchanged($("task-place"))) fill($("task-place"), icon("pin"), t("tablet.use_task_place"));
  const own = app.position.own;
  const words = [];
  if (app.map.picking) words.push(t("tablet.here_hint"));
  else if (!own) words.push(t(app.onDuty && app.position.watching ? "tablet.position_seeking" : "tablet.position_none"));
  else {
    words.push(own.manual ? t("tablet.position_manual") : t("tablet.position_gps", { m: Math.round(own.accuracy || 0) }));
    words.push(app.position.unsent ? t("tablet.position_waiting") : t("tablet.position_sent", { time: timeOfDay(new Date(app.position.sentAt).toISOString()) }));
  }
  $("whereabouts").textContent = words.join(" · ");
}

main().catch((err) => {
  console.error(err);
  const starting = $("starting");
  starting.hidden = false;
  starting.classList.add("fatal");
  starting.textContent = `${t("error.error")}: ${err.message}`;
});
