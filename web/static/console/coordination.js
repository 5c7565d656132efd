// Working across and up, wired into the console: the sub-center queue beside the incident
// queue, the prefecture link in the header, the instruction alarm, and their live events.

import { t } from "/static/common/i18n.js";
import { DepartmentTasks, columnTabs, departmentOf } from "./subcenter.js";
import { InstructionAlarm } from "./instructions.js";
import { UpLink } from "./uplink.js";

const $ = (id) => document.getElementById(id);

export class Coordination {
  /**
   * department: the dispatcher's department (a sub-center desk) or null (a city/town center);
   * center: the jurisdiction whose center this console is (the city's hears of late departments);
   * incidentOf(id): the console's row of an incident; onOpen(id) opens one; announcer rings;
   * notice(text, kind) says what happened.
   */
  constructor({ department, center, incidentOf, onOpen, announcer, notice }) {
    this.department = department;
    this.center = center;
    this.incidentOf = incidentOf;
    this.announcer = announcer;
    this.started = false;
    this.showTab = columnTabs({
      tabs: { incidents: $("tab-incidents"), department_tasks: $("tab-department-tasks") },
      panels: { incidents: $("incidents-panel"), department_tasks: $("department-tasks-panel") },
    });
    this.tasks = new DepartmentTasks($("department-tasks"), {
      onOpen,
      incidentOf,
      dialog: $("action-dialog"),
      onDone: (text) => notice(text, "ok"),
      onError: (text) => notice(text),
      onChange: () => this.counts(),
    });
    this.uplink = new UpLink($("uplink"));
    this.instructions = new InstructionAlarm($("instructions"), {
      onOpen,
      ring: () => announcer.beep("escalated"),
      onError: (text) => notice(text),
    });
    this.filters();
  }

  async start() {
    // Instructions are the command center's to acknowledge: a sub-center's desk is not rung.
    await Promise.all([this.tasks.load(), this.department ? null : this.instructions.load()]);
    // A sub-center's desk works its department's tasks first; a center its incident queue.
    this.showTab(this.department && this.tasks.available ? "department_tasks" : "incidents");
    this.uplink.start();
    this.started = true;
  }

  /** After the socket comes back: what changed meanwhile may not all have come as events. */
  resumed() {
    if (!this.started) return;
    this.tasks.reloadSoon();
    if (!this.department) this.instructions.load();
  }

  filters() {
    const show = $("department-tasks-show");
    const value = show.value || "open";
    show.replaceChildren(...["open", "all"].map((each) => new Option(t(`subcenter.show.${each}`), each)));
    show.value = value;
    show.onchange = () => {
      this.tasks.showAll = show.value === "all";
      this.tasks.render();
    };
  }

  onEvent(event) {
    const p = event.payload || {};
    if (event.type.startsWith("department_task_")) {
      this.tasks.reloadSoon();
      // The event says what the desk needs to read it alone (the incident may be new to this console).
      const about = this.incidentOf(event.incident_id) || {
        id: event.incident_id,
        severity: p.severity ?? 4,
        category: p.category || "",
        jurisdiction: p.jurisdiction_id || "",
        title: p.title,
      };
      const department = departmentOf(p);
      if (event.type === "department_task_sent" && this.department && department === this.department) {
        this.announcer.announce("department_task", about);
      }
      const ours = !this.department && (p.city_jurisdiction_id ?? this.center) === this.center;
      if (event.type === "department_task_escalated" && ours) this.announcer.announce("department_escalated", about);
    }
    if (event.type.startsWith("instruction_") && !this.department) this.instructions.onEvent(event);
    if (event.type.startsWith("outbound_")) this.uplink.soon();
  }

  tick(now) {
    this.tasks.tick(now);
  }

  counts() {
    $("column-tabs").hidden = !this.tasks.available;
    $("department-tasks-count").textContent = String(this.tasks.open().length);
    const escalated = this.tasks.escalated().length;
    const alarm = $("department-tasks-escalated");
    alarm.hidden = escalated === 0;
    alarm.textContent = t("subcenter.escalated_count", { n: escalated });
  }

  /** The language changed: every piece speaks again. */
  render() {
    this.filters();
    this.tasks.render();
    this.counts();
    this.uplink.render();
    this.instructions.render();
  }
}
