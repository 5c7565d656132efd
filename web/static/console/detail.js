// The incident detail: every alert (with its raw message), the callers, the tasks with each
// state and channel receipt, the whole timeline, suggested units, and the actions.

import { api, describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import {
  categoryName,
  countdown,
  departmentName,
  distance,
  h,
  icon,
  incidentStateName,
  jurisdictionName,
  kindBadge,
  placeWords,
  severityBadge,
  taskStateName,
  tierName,
  timeOfDay,
} from "/static/common/format.js";
import { ACTIONS } from "./actions.js";
import { instructionSection } from "./instructions.js";
import { departmentTaskTriggers } from "./subcenter.js";
import { actorWords, eventDetail, maskNumber } from "./words.js";

const MILESTONES = ["sent", "delivered", "accepted", "en_route", "on_scene", "done", "declined", "expired", "cancelled"];
const OPEN_TASK = ["pending", "sent", "delivered", "accepted", "en_route", "on_scene"];

export class Detail {
  /** onAction(trigger, extra) for the buttons; onClose() hides the panel. */
  /** desk: the department of a sub-center's dispatcher (no incident actions); onWorkPart(part, trigger). */
  constructor(panel, { onAction, onCancelTask, onClose, instructions, desk = null, onWorkPart }) {
    this.panel = panel;
    this.desk = desk;
    this.onWorkPart = onWorkPart;
    this.instructions = instructions;
    this.onAction = onAction;
    this.onCancelTask = onCancelTask;
    this.onClose = onClose;
    this.incident = null;
  }

  empty() {
    this.incident = null;
    this.panel.replaceChildren(h("p", { class: "detail-empty" }, t("detail.none")));
  }

  render(incident, { suggestions = [], units = new Map() } = {}) {
    this.incident = incident;
    const channels = incident.channels || {};
    const due = ["reported", "verifying", "dispatched"].includes(incident.state) ? countdown(incident.deadline_at) : null;
    const parts = [
      h(
        "header",
        { class: "detail-head" },
        h(
          "div",
          { class: "detail-title" },
          severityBadge(incident.severity, false),
          h("h2", { id: "detail-heading" }, `${t("detail.incident", { id: incident.id })} ${categoryName(incident.category)}`),
          h("button", { type: "button", class: "ghost small close", onclick: this.onClose, "aria-label": t("detail.close") }, icon("cross")),
        ),
        h("p", { class: "detail-subtitle" }, incident.title || ""),
        h(
          "dl",
          { class: "facts" },
          fact(t("filter.state"), h("span", { class: `state-chip state-${incident.state}` }, incidentStateName(incident.state))),
          fact(t("detail.place"), `${placeWords(incident.jurisdiction)}${incident.outside_area ? ` (${t("detail.outside")})` : ""}`),
          fact(t("detail.owner"), `${tierName(incident.owner.tier)} · ${jurisdictionName(incident.owner.jurisdiction)}`),
          fact(t("detail.reported"), timeOfDay(incident.created_at, true)),
          fact(t("detail.deadline"), due ? h("span", { class: due.overdue ? "overdue" : "" }, icon(due.overdue ? "alarm" : "clock"), ` ${due.text}`) : t("queue.no_deadline")),
          fact(
            t("detail.departments"),
            incident.departments.map((id, index) => (index === 0 ? `${departmentName(id)}（${t("detail.lead")}）` : departmentName(id))).join("、"),
          ),
          fact(t("detail.alerts"), `${incident.alert_count}${channels.hotline ? ` · ${t("queue.callers", { n: channels.hotline })}` : ""}`),
          incident.summary ? fact(t("detail.summary"), incident.summary) : null,
          incident.merged_into ? fact("", t("detail.merged_into", { id: incident.merged_into })) : null,
          incident.forwarded_to_prefecture ? fact("", t("detail.forwarded")) : null,
        ),
        this.desk ? null : this.actions(incident),
        h("a", { class: "print-link", href: `/console/report?id=${incident.id}`, target: "_blank", rel: "noopener" }, icon("print"), t("detail.print")),
      ),
      section(t("detail.tasks"), this.tasks(incident, units)),
      incident.department_tasks?.length ? section(t("detail.department_tasks"), departmentParts(incident.department_tasks, this)) : null,
      instructionSection(incident, this.instructions),
      this.desk ? null : section(t("detail.suggestions"), this.suggestions(incident, suggestions)),
      section(t("detail.alerts"), this.alerts(incident)),
      this.callers(incident),
      section(t("detail.timeline"), this.timeline(incident, units)),
    ];
    this.panel.replaceChildren(...parts.filter(Boolean));
  }

  actions(incident) {
    const allowed = new Set(incident.triggers || []);
    return h(
      "div",
      { class: "actions", role: "group", "aria-label": t("detail.actions") },
      ...ACTIONS.map((trigger) =>
        h(
          "button",
          {
            type: "button",
            class: `action action-${trigger}${trigger === "resolve" ? " primary" : ""}`,
            dataset: { trigger },
            "aria-disabled": allowed.has(trigger) ? null : "true",
            title: allowed.has(trigger) ? null : t("error.illegal_transition"),
            onclick: () => this.onAction(trigger, {}),
          },
          t(`incident_trigger.${trigger}`),
        ),
      ),
    );
  }

  tasks(incident, units) {
    if (!incident.tasks.length) return h("p", { class: "muted" }, t("detail.no_tasks"));
    return h(
      "ul",
      { class: "tasks" },
      ...incident.tasks.map((task) => {
        const open = OPEN_TASK.includes(task.state);
        const due = ["pending", "sent", "delivered"].includes(task.state) ? countdown(task.accept_deadline_at) : null;
        return h(
          "li",
          { class: `task task-${task.state}`, dataset: { task: task.id } },
          h(
            "div",
            { class: "task-head" },
            icon("unit"),
            h("strong", {}, units.get(task.responder_id)?.name || task.responder_id),
            h("span", { class: "tier-chip" }, tierName(task.tier)),
            h("span", { class: `state-chip task-state task-state-${task.state}` }, taskStateName(task.state)),
            due ? h("span", { class: `countdown${due.overdue ? " overdue" : ""}` }, icon("clock"), ` ${due.text}`) : null,
          ),
          h(
            "div",
            { class: "receipts" },
            task.delivered_via ? h("span", { class: "receipt" }, `${t("task.via")}：${t(`channel.${task.delivered_via}`, { fallback: task.delivered_via })}`) : null,
            ...MILESTONES.filter((name) => task.milestones[name]).map((name) => h("span", { class: "receipt" }, icon("check"), `${t(`milestone.${name}`)} ${timeOfDay(task.milestones[name])}`)),
          ),
          open && !this.desk
            ? h(
                "div",
                { class: "task-actions" },
                h("button", { type: "button", class: "small", onclick: () => this.onAction("reassign", { task: task.id }) }, t("task.reassign")),
                h("button", { type: "button", class: "small ghost", onclick: () => this.onCancelTask(task) }, t("task.cancel")),
              )
            : null,
        );
      }),
    );
  }

  suggestions(incident, suggestions) {
    if (!suggestions.length) return h("p", { class: "muted" }, t("detail.no_suggestions"));
    const canAssign = (incident.triggers || []).includes("assign");
    return h(
      "ul",
      { class: "suggestions" },
      ...suggestions.map((unit) =>
        h(
          "li",
          {},
          h("strong", {}, unit.name),
          h("span", { class: "muted" }, `${jurisdictionName(unit.jurisdiction)} · ${distance(unit.distance_m)}`),
          h("span", { class: unit.qualified ? "ok" : "warn" }, unit.qualified ? `✓ ${t("detail.qualified")}` : `! ${t("detail.not_qualified")}`),
          unit.in_owner_jurisdiction ? null : h("span", { class: "warn" }, t("detail.outside_owner")),
          canAssign ? h("button", { type: "button", class: "small", onclick: () => this.onAction("assign", { responder: unit.id }) }, t("incident_trigger.assign")) : null,
        ),
      ),
    );
  }

  alerts(incident) {
    return h(
      "ul",
      { class: "alerts" },
      ...incident.alerts.map((alert) => {
        const raw = h("pre", { class: "raw", hidden: true });
        const toggle = h("button", { type: "button", class: "small ghost" }, t("detail.raw"));
        toggle.addEventListener("click", async () => {
          if (!raw.hidden) {
            raw.hidden = true;
            toggle.textContent = t("detail.raw");
            return;
          }
          try {
            const full = await api("GET", `/api/v1/alerts/${alert.id}`);
            raw.textContent = pretty(full.raw);
          } catch (err) {
            raw.textContent = describeError(err);
          }
          raw.hidden = false;
          toggle.textContent = t("detail.hide_raw");
        });
        return h(
          "li",
          { class: "alert" },
          h(
            "div",
            { class: "alert-head" },
            kindBadge(alert.kind),
            h("span", {}, t(`kind.${alert.kind}`)),
            h("span", { class: "muted" }, alert.source),
            h("span", { class: "muted" }, timeOfDay(alert.observed_at)),
            severityBadge(alert.severity),
            toggle,
          ),
          alert.title ? h("div", { class: "alert-title" }, alert.title) : null,
          alert.description ? h("div", { class: "alert-description" }, alert.description) : null,
          raw,
        );
      }),
    );
  }

  callers(incident) {
    const calls = incident.alerts.filter((alert) => alert.kind === "hotline" && alert.attributes?.caller?.number);
    if (!calls.length) return null;
    return section(
      t("detail.callers"),
      h(
        "ul",
        { class: "callers" },
        ...calls.map((alert) => {
          const caller = alert.attributes.caller;
          const number = h("span", { class: "number" }, maskNumber(caller.number));
          const reveal = h("button", { type: "button", class: "small ghost" }, t("detail.reveal"));
          reveal.addEventListener("click", () => {
            number.textContent = caller.number;
            reveal.remove();
          });
          return h(
            "li",
            {},
            icon("hotline"),
            number,
            reveal,
            caller.name ? h("span", {}, caller.name) : null,
            caller.callback_wanted ? h("span", { class: "warn" }, t("detail.callback")) : null,
            h("span", { class: "muted" }, `${alert.attributes.line || ""} · ${timeOfDay(alert.observed_at)}`),
          );
        }),
      ),
    );
  }

  timeline(incident, units) {
    const outcome = outcomes(incident.timeline);
    return h(
      "div",
      {},
      incident.timeline_truncated ? h("p", { class: "muted" }, t("detail.truncated")) : null,
      h(
        "ol",
        { class: "timeline" },
        ...incident.timeline.map((event) => {
          const detail = eventDetail(event, units);
          return h(
            "li",
            { class: `event event-${event.type}` },
            h("time", { datetime: event.occurred_at }, timeOfDay(event.occurred_at)),
            h("strong", {}, t(`event.${event.type}`, { fallback: event.type })),
            h("span", { class: "actor" }, actorWords(event.actor, units)),
            detail.text ? h("span", { class: "event-detail" }, detail.text) : null,
            detail.why ? h("q", { class: "reason" }, detail.why) : null,
            outcome(event),
          );
        }),
      ),
    );
  }
}

/** Each department's part of the incident: its state, the accept-by countdown, escalated or not. */
function departmentParts(parts, { desk, onWorkPart }) {
  return h(
    "ul",
    { class: "dept-parts" },
    ...parts.map((part) => {
      const due = part.state === "sent" && part.accept_by ? countdown(part.accept_by) : null;
      return h(
        "li",
        { dataset: { departmentTask: part.id } },
        h("strong", {}, departmentName(part.department_id ?? part.department)),
        h("span", { class: `state-chip dept-state dept-state-${part.state}` }, t(`department_task_state.${part.state}`, { fallback: part.state })),
        due ? h("span", { class: `countdown${due.overdue ? " overdue" : ""}` }, icon("clock"), ` ${due.text}`) : null,
        part.escalated && part.state === "sent" ? h("span", { class: "overdue" }, icon("alarm"), t("subcenter.escalated")) : null,
        part.reason ? h("q", { class: "reason" }, part.reason) : null,
        ...(desk && (part.department_id ?? part.department) !== desk ? [] : departmentTaskTriggers(part)).map((trigger) =>
          h("button", { type: "button", class: "small", dataset: { trigger }, onclick: () => onWorkPart(part, trigger) }, t(`subcenter.${trigger}`)),
        ),
      );
    }),
  );
}

/**
 * What became of what the timeline shows going out: a queued message is delivered or refused
 * by a later event of the same message; an instruction received is acknowledged or still open.
 */
function outcomes(timeline) {
  const delivery = new Map();
  const acknowledged = new Set();
  for (const event of timeline) {
    const p = event.payload || {};
    if (event.type === "outbound_delivered") delivery.set(p.message_id, "delivered");
    if (event.type === "outbound_refused") delivery.set(p.message_id, "refused");
    if (event.type === "instruction_acknowledged") acknowledged.add(p.identifier ?? p.instruction_identifier ?? p.instruction);
  }
  return (event) => {
    const p = event.payload || {};
    if (event.type === "outbound_queued") {
      const state = delivery.get(p.message_id) || "queued";
      return h("span", { class: `delivery delivery-${state}` }, t(`outbound.state.${state}`));
    }
    if (event.type === "instruction_received") {
      const done = acknowledged.has(p.identifier ?? p.instruction_identifier ?? p.instruction);
      return h("span", { class: `delivery delivery-${done ? "delivered" : "queued"}` }, t(done ? "instruction.acknowledged" : "instruction.open"));
    }
    return null;
  };
}

function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function section(title, body) {
  return h("section", { class: "detail-section" }, h("h3", {}, title), body);
}

function pretty(raw) {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}
