// The sub-center queue (协办任务): the department tasks of the dispatcher's scope, sent →
// accepted → done or declined with a reason, the accept-by countdown, escalated ones marked.
// A department's dispatcher works here first; a city dispatcher watches the escalated ones.

import { api, describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { askText } from "./ask_text.js";
import { categoryName, countdown, departmentName, h, icon, placeWords, severityBadge, timeOfDay } from "/static/common/format.js";

export const OPEN_DEPARTMENT_TASK = ["sent", "accepted"];
const RELOAD_AFTER_MS = 300;
/** What a state allows when the server's row does not say (it should: `triggers`). */
const TRIGGERS = { sent: ["accept", "decline"], accepted: ["complete", "decline"] };

/** The triggers a task's row offers: the server's list when it sent one, else its state's. */
export function departmentTaskTriggers(task) {
  return task.triggers || TRIGGERS[task.state] || [];
}

/** 接收时限 4:32 while there is time; 超时 0:33 once it passed. */
function acceptWords(due) {
  return due.overdue ? due.text : t("subcenter.accept_by", { t: due.text });
}

/** The department a task is for, whatever the row calls it. */
export function departmentOf(task) {
  return task.department_id ?? task.department;
}

export class DepartmentTasks {
  /**
   * list: the <ul>; onOpen(incidentId) opens an incident; incidentOf(id) the console's row of
   * it (for title and place when the task does not carry them); dialog: the action <dialog>;
   * onDone(text) / onError(text) say what happened; onChange() after every (re)load.
   */
  constructor(list, { onOpen, incidentOf, dialog, onDone, onError, onChange }) {
    this.list = list;
    this.onOpen = onOpen;
    this.incidentOf = incidentOf;
    this.dialog = dialog;
    this.onDone = onDone;
    this.onError = onError;
    this.onChange = onChange || (() => {});
    this.tasks = [];
    this.available = false;
    this.showAll = false;
    this.timer = null;
  }

  async load() {
    try {
      const answer = await api("GET", "/api/v1/department-tasks");
      this.tasks = answer.department_tasks || answer.tasks || [];
      this.available = true;
    } catch (err) {
      // A server without sub-centers (404) shows no such list.
      if (err.status === 404) this.available = false;
      else if (err.status !== 401) console.warn("department tasks failed", describeError(err));
    }
    this.render();
    this.onChange();
  }

  /** A department_task_* event: reload once however many came with one commit. */
  reloadSoon() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load();
    }, RELOAD_AFTER_MS);
  }

  open() {
    return this.tasks.filter((task) => OPEN_DEPARTMENT_TASK.includes(task.state));
  }

  escalated() {
    return this.open().filter((task) => task.escalated && task.state === "sent");
  }

  shown() {
    const rows = this.showAll ? this.tasks : this.open();
    // Escalated ones first (they wait on somebody), then the oldest deadline, then the newest.
    return [...rows].sort(
      (a, b) =>
        Number(Boolean(b.escalated && b.state === "sent")) - Number(Boolean(a.escalated && a.state === "sent")) ||
        Number(b.state === "sent") - Number(a.state === "sent") ||
        String(a.accept_by || "").localeCompare(String(b.accept_by || "")) ||
        b.id - a.id,
    );
  }

  render(now = Date.now()) {
    const rows = this.shown();
    if (!rows.length) {
      this.list.replaceChildren(h("li", { class: "empty" }, t("subcenter.empty")));
      return;
    }
    this.list.replaceChildren(...rows.map((task) => this.row(task, now)));
  }

  row(task, now) {
    const incident = this.incidentOf(task.incident_id) || {};
    const about = { ...incident, ...(task.incident || {}) };
    const severity = task.severity ?? about.severity;
    const category = task.category ?? about.category;
    const title = task.title ?? about.title;
    const place = task.jurisdiction ?? task.jurisdiction_id ?? about.jurisdiction;
    const escalated = Boolean(task.escalated) && task.state === "sent";
    let due = task.state === "sent" && task.accept_by ? countdown(task.accept_by, now) : null;
    if (escalated && due && !due.overdue) due = null; // the server's clock says late: this one's lags
    const department = departmentOf(task);
    return h(
      "li",
      {
        id: `department-task-${task.id}`,
        class: `dept-task dept-task-${task.state}${escalated ? " escalated" : ""}${due?.overdue ? " late" : ""}`,
        dataset: { task: task.id, incident: task.incident_id, state: task.state },
      },
      h(
        "div",
        { class: "row-top" },
        severity ? severityBadge(severity) : null,
        h("span", { class: "dept-name" }, departmentName(department)),
        h("span", { class: "row-id" }, `#${task.incident_id}`),
        h("span", { class: `state-chip dept-state dept-state-${task.state}` }, t(`department_task_state.${task.state}`, { fallback: task.state })),
      ),
      h("div", { class: "row-title" }, title || (category ? categoryName(category) : "")),
      h(
        "div",
        { class: "row-bottom" },
        place ? h("span", { class: "row-place" }, icon("pin"), placeWords(place)) : null,
        category ? h("span", {}, categoryName(category)) : null,
        task.created_at ? h("span", { class: "muted" }, t("subcenter.sent_at", { time: timeOfDay(task.created_at) })) : null,
        due
          ? h(
              "span",
              { class: `row-deadline${due.overdue ? " overdue" : ""}`, dataset: { deadline: task.accept_by } },
              icon(due.overdue ? "alarm" : "clock"),
              acceptWords(due),
            )
          : null,
      ),
      escalated ? h("div", { class: "dept-escalated" }, icon("alarm"), t("subcenter.escalated")) : null,
      task.reason ? h("div", { class: "dept-reason" }, t("subcenter.reason", { reason: task.reason })) : null,
      this.buttons(task),
    );
  }

  buttons(task) {
    const allowed = departmentTaskTriggers(task);
    const trigger = (name, primary) =>
      h(
        "button",
        { type: "button", class: `small${primary ? " primary" : ""}`, dataset: { trigger: name }, onclick: () => this.act(task, name) },
        t(`subcenter.${name}`),
      );
    return h(
      "div",
      { class: "dept-actions" },
      allowed.includes("accept") ? trigger("accept", true) : null,
      allowed.includes("complete") ? trigger("complete", true) : null,
      allowed.includes("decline") ? trigger("decline", false) : null,
      h("button", { type: "button", class: "small ghost", onclick: () => this.onOpen(task.incident_id) }, t("subcenter.open_incident")),
    );
  }

  /** Countdowns tick without rebuilding the list. */
  tick(now = Date.now()) {
    for (const cell of this.list.querySelectorAll(".row-deadline[data-deadline]")) {
      const due = countdown(cell.dataset.deadline, now);
      cell.lastChild.textContent = acceptWords(due);
      cell.classList.toggle("overdue", due.overdue);
      cell.closest(".dept-task")?.classList.toggle("late", due.overdue);
    }
  }

  act(task, trigger) {
    if (trigger === "decline") {
      this.decline(task);
      return;
    }
    this.send(task, trigger, {}).catch((err) => this.onError(describeError(err)));
  }

  async send(task, trigger, body) {
    await api("POST", `/api/v1/department-tasks/${task.id}/${trigger}`, body);
    this.onDone(t("subcenter.done", { department: departmentName(departmentOf(task)), action: t(`department_task_trigger.${trigger}`) }));
    await this.load();
  }

  /** Declining needs the reason: a dialog that keeps the focus until sent or closed. */
  decline(task) {
    askText(this.dialog, {
      name: "decline-reason",
      title: t("subcenter.decline_title", { department: departmentName(departmentOf(task)), id: task.incident_id }),
      label: t("subcenter.decline_reason"),
      missing: t("subcenter.reason_required"),
      send: (text) => this.send(task, "decline", { reason: text }),
    });
  }
}

/** The left column's tabs: the incident queue and the sub-center queue; `show(name)` switches. */
export function columnTabs({ tabs, panels, onShow }) {
  const show = (name) => {
    for (const [key, tab] of Object.entries(tabs)) {
      tab.setAttribute("aria-selected", String(key === name));
      tab.tabIndex = key === name ? 0 : -1;
      panels[key].hidden = key !== name;
    }
    onShow?.(name);
  };
  const keys = Object.keys(tabs);
  for (const [key, tab] of Object.entries(tabs)) {
    tab.addEventListener("click", () => show(key));
    // ←/→ move between the tabs, as a tablist does.
    tab.addEventListener("keydown", (pressed) => {
      if (!["ArrowLeft", "ArrowRight"].includes(pressed.key)) return;
      pressed.preventDefault();
      pressed.stopPropagation();
      const next = keys[(keys.indexOf(key) + (pressed.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length];
      show(next);
      tabs[next].focus();
    });
  }
  return show;
}
