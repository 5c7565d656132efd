// The queue: the open incidents of the dispatcher's subtree, newest first, with filters, search,
// a ticking countdown to each step's deadline, and ↑/↓ to move through it.

import { t } from "/static/common/i18n.js";
import {
  age,
  categoryName,
  countdown,
  h,
  icon,
  incidentStateName,
  kindBadge,
  placeWords,
  severityBadge,
  tierName,
  townOf,
} from "/static/common/format.js";

export const OPEN_STATES = ["reported", "verifying", "dispatched", "responding", "on_scene"];
/** Nobody has accepted yet: the step's deadline is what matters (once accepted it is in hand). */
export const WAITING_STATES = ["reported", "verifying", "dispatched"];
const KINDS = ["sensor", "video", "hotline", "cap", "monitoring", "manual"];

/** Whether an incident passes the filters (the server applies them too; this keeps live rows honest). */
export function matches(incident, filters) {
  if (filters.state === "open" && !OPEN_STATES.includes(incident.state)) return false;
  if (filters.state && !["open", "all"].includes(filters.state) && incident.state !== filters.state) return false;
  if (filters.tier && incident.owner.tier !== filters.tier) return false;
  if (filters.town && townOf(incident.jurisdiction) !== filters.town && townOf(incident.owner.jurisdiction) !== filters.town) return false;
  if (filters.category && incident.category !== filters.category) return false;
  if (filters.severity && incident.severity > Number(filters.severity)) return false;
  if (filters.search) {
    const needle = filters.search.trim().toLowerCase();
    const haystack = [`#${incident.id}`, String(incident.id), incident.title || "", categoryName(incident.category), placeWords(incident.jurisdiction)]
      .join(" ")
      .toLowerCase();
    if (!haystack.includes(needle)) return false;
  }
  return true;
}

/** The query string of GET /api/v1/incidents for the filters the server understands. */
export function listQuery(filters) {
  const query = new URLSearchParams({ limit: "500" });
  if (filters.state === "open") query.set("state", OPEN_STATES.join(","));
  else if (filters.state && filters.state !== "all") query.set("state", filters.state);
  if (filters.tier) query.set("tier", filters.tier);
  if (filters.town) query.set("jurisdiction", filters.town);
  if (filters.category) query.set("category", filters.category);
  if (filters.severity) query.set("severity", filters.severity);
  return query;
}

export class Queue {
  /** onPick(id) when the dispatcher moves to an incident; onOpen(id) when it opens one. */
  constructor(list, { onPick, onOpen }) {
    this.list = list;
    this.onPick = onPick;
    this.onOpen = onOpen;
    this.rows = [];
    this.cursor = null;
    this.opened = null;
    list.addEventListener("click", (clicked) => {
      const row = clicked.target.closest("[data-id]");
      if (!row) return;
      const id = Number(row.dataset.id);
      this.pick(id);
      this.onOpen(id);
    });
  }

  /** Render the incidents (already filtered and sorted). */
  render(incidents, now = Date.now()) {
    this.rows = incidents;
    if (!incidents.length) {
      this.list.replaceChildren(h("li", { class: "empty", role: "presentation" }, t("queue.empty")));
      this.list.removeAttribute("aria-activedescendant");
      return;
    }
    this.list.replaceChildren(...incidents.map((incident) => this.row(incident, now)));
    if (this.cursor !== null && !incidents.some((each) => each.id === this.cursor)) this.cursor = null;
    this.mark();
  }

  row(incident, now) {
    const channels = incident.channels || {};
    const callers = channels.hotline || 0;
    const due = WAITING_STATES.includes(incident.state) ? countdown(incident.deadline_at, now) : null;
    return h(
      "li",
      {
        id: `incident-${incident.id}`,
        class: `incident-row${due?.overdue ? " overdue" : ""}${incident._fresh ? " fresh" : ""}`,
        role: "option",
        "aria-selected": "false",
        dataset: { id: incident.id },
      },
      h(
        "div",
        { class: "row-top" },
        severityBadge(incident.severity),
        h("span", { class: "row-category" }, categoryName(incident.category)),
        h("span", { class: "row-id" }, `#${incident.id}`),
        h("span", { class: `state-chip state-${incident.state}` }, incidentStateName(incident.state)),
      ),
      h("div", { class: "row-title" }, incident.title || categoryName(incident.category)),
      h(
        "div",
        { class: "row-bottom" },
        h("span", { class: "row-place" }, icon("pin"), placeWords(incident.jurisdiction)),
        h("span", { class: `tier-chip tier-${incident.owner.tier}` }, tierName(incident.owner.tier)),
        h("span", { class: "row-age", title: incident.created_at }, t("queue.age", { t: age(incident.created_at, now) })),
        h(
          "span",
          { class: `row-deadline${due?.overdue ? " overdue" : ""}`, dataset: { deadline: due ? incident.deadline_at : "" } },
          icon(due?.overdue ? "alarm" : "clock"),
          due ? due.text : t("queue.no_deadline"),
        ),
      ),
      h(
        "div",
        { class: "row-counts" },
        h("span", {}, t("queue.alerts", { n: incident.alert_count })),
        callers ? h("span", {}, t("queue.callers", { n: callers })) : null,
        h("span", { class: "row-channels" }, KINDS.filter((kind) => channels[kind]).map((kind) => kindBadge(kind))),
      ),
    );
  }

  /** Tick the countdowns without rebuilding the list. */
  tick(now = Date.now()) {
    for (const cell of this.list.querySelectorAll(".row-deadline[data-deadline]")) {
      const iso = cell.dataset.deadline;
      if (!iso) continue;
      const due = countdown(iso, now);
      cell.lastChild.textContent = due.text;
      cell.classList.toggle("overdue", due.overdue);
      cell.closest(".incident-row")?.classList.toggle("overdue", due.overdue);
    }
  }

  pick(id) {
    this.cursor = id;
    this.mark();
    this.onPick(id);
  }

  mark() {
    for (const row of this.list.querySelectorAll(".incident-row")) {
      const id = Number(row.dataset.id);
      row.setAttribute("aria-selected", String(id === this.cursor));
      row.classList.toggle("opened", id === this.opened);
    }
    if (this.cursor !== null) {
      const row = this.list.querySelector(`#incident-${this.cursor}`);
      if (row) {
        this.list.setAttribute("aria-activedescendant", row.id);
        row.scrollIntoView({ block: "nearest" });
      }
    }
  }

  /** ↑/↓: the next or previous incident of the list. */
  move(step) {
    if (!this.rows.length) return;
    const index = this.rows.findIndex((each) => each.id === this.cursor);
    const next = index < 0 ? 0 : Math.min(this.rows.length - 1, Math.max(0, index + step));
    this.pick(this.rows[next].id);
  }
}
