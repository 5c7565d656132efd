// A dispatcher's actions on an incident: each one a dialog asking what the API takes (the
// reason for the timeline, the unit, the department …); a refusal (409) says what is allowed.

import { api, describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { categoryName, departmentName, distance, h, jurisdictionName, severityLabel } from "/static/common/format.js";

/** The dispatcher's triggers, in the order the buttons show them. */
export const ACTIONS = [
  "assign",
  "reassign",
  "escalate",
  "delegate",
  "verify",
  "add_department",
  "remove_department",
  "merge",
  "resolve",
  "close",
  "reopen",
  "cancel",
];

export class Actions {
  /** dialog: a <dialog> element; onDone(incidentId) after a change landed. */
  constructor(dialog, { onDone, catalog }) {
    this.dialog = dialog;
    this.onDone = onDone;
    this.catalog = catalog;
    dialog.addEventListener("close", () => dialog.replaceChildren());
  }

  /**
   * Open the dialog of `trigger` for the incident (a detail body); `context` gives what the
   * forms offer: suggestions (units), units (names), openIncidents (for merge), task (reassign).
   */
  open(trigger, incident, context = {}) {
    const form = h("form", { method: "dialog", class: "action-form", novalidate: true });
    const fields = this.fields(trigger, incident, context);
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary" }, t("dialog.submit"));
    const title = t("dialog.title", { action: t(`incident_trigger.${trigger}`, { fallback: t(`task_trigger.${trigger}`) }), id: incident.id });
    form.append(
      h("h2", {}, title),
      h("p", { class: "muted" }, `${severityLabel(incident.severity, true)} · ${categoryName(incident.category)} · ${incident.title || ""}`),
      ...fields.elements,
      error,
      h("div", { class: "dialog-buttons" }, h("button", { type: "button", class: "ghost", onclick: () => this.dialog.close() }, t("common.cancel")), submit),
    );
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      error.hidden = true;
      let request;
      try {
        request = fields.request();
      } catch (problem) {
        error.textContent = problem.message;
        error.hidden = false;
        return;
      }
      submit.disabled = true;
      submit.textContent = t("dialog.working");
      try {
        await api("POST", request.path, request.body);
        this.dialog.close();
        this.onDone(incident.id, trigger);
      } catch (err) {
        error.textContent = describeError(err) + openParts(err, incident);
        error.hidden = false;
      } finally {
        submit.disabled = false;
        submit.textContent = t("dialog.submit");
      }
    });
    this.dialog.replaceChildren(form);
    this.dialog.setAttribute("aria-label", title);
    this.dialog.showModal();
    (form.querySelector("[autofocus]") || form.querySelector("input, select, textarea, button"))?.focus();
  }

  fields(trigger, incident, context) {
    const path = `/api/v1/incidents/${incident.id}/${trigger}`;
    const reason = textArea(trigger === "resolve" ? t("dialog.summary") : t("dialog.reason_optional"), "reason", trigger === "resolve");
    const withReason = (body = {}) => {
      const text = reason.input.value.trim();
      if (trigger === "resolve" && !text) throw new Error(t("dialog.summary_required"));
      return text ? { ...body, reason: text } : body;
    };
    switch (trigger) {
      case "assign": {
        const pick = unitPicker(context.suggestions || [], context.preselect);
        return { elements: [pick.element, reason.element], request: () => ({ path, body: withReason({ responder_id: pick.value() }) }) };
      }
      case "reassign": {
        const open = (incident.tasks || []).filter((task) => ["pending", "sent", "delivered", "accepted", "en_route", "on_scene"].includes(task.state));
        const task = select(
          t("dialog.task"),
          open.map((each) => [each.id, `${context.units?.get(each.responder_id)?.name || each.responder_id} · ${t(`task_state.${each.state}`)}`]),
          context.task,
        );
        const pick = unitPicker(context.suggestions || [], context.preselect);
        return {
          elements: [task.element, pick.element, reason.element],
          request: () => ({ path, body: withReason({ task_id: Number(task.input.value), responder_id: pick.value() }) }),
        };
      }
      case "delegate": {
        const children = this.catalog.jurisdictions.filter((each) => each.parent === incident.owner.jurisdiction);
        const target = select(t("dialog.jurisdiction"), [["", t("dialog.jurisdiction_auto")], ...children.map((each) => [each.id, each.name])]);
        return {
          elements: [target.element, reason.element],
          request: () => ({ path, body: withReason(target.input.value ? { jurisdiction: target.input.value } : {}) }),
        };
      }
      case "add_department":
      case "remove_department": {
        const current = new Set(incident.departments);
        const lead = this.catalog.categories.find((each) => each.id === incident.category)?.department;
        const options = this.catalog.departments
          .filter((each) => (trigger === "add_department" ? !current.has(each.id) : current.has(each.id) && each.id !== lead))
          .map((each) => [each.id, departmentName(each.id)]);
        const department = select(t("dialog.department"), options);
        return { elements: [department.element, reason.element], request: () => ({ path, body: withReason({ department: department.input.value }) }) };
      }
      case "merge": {
        const candidates = (context.openIncidents || []).filter((each) => each.id !== incident.id);
        const into = select(
          t("dialog.into"),
          candidates.map((each) => [each.id, `#${each.id} ${categoryName(each.category)} · ${jurisdictionName(each.jurisdiction)} ${each.title || ""}`]),
        );
        return { elements: [into.element, reason.element], request: () => ({ path, body: withReason({ into_incident_id: Number(into.input.value) }) }) };
      }
      default:
        return { elements: [reason.element], request: () => ({ path, body: withReason() }) };
    }
  }

  /** Cancel one task (a dispatcher's only task trigger), with a note for the timeline. */
  cancelTask(incident, task, unitName) {
    const note = textArea(t("dialog.note"), "note", false);
    const form = h("form", { method: "dialog", class: "action-form", novalidate: true });
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const title = `${t("task.cancel")} · ${unitName}`;
    form.append(
      h("h2", {}, title),
      note.element,
      error,
      h("div", { class: "dialog-buttons" }, h("button", { type: "button", class: "ghost", onclick: () => this.dialog.close() }, t("common.cancel")), h("button", { type: "submit", class: "primary" }, t("dialog.submit"))),
    );
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const text = note.input.value.trim();
      try {
        await api("POST", `/api/v1/tasks/${task.id}/cancel`, text ? { note: text } : {});
        this.dialog.close();
        this.onDone(incident.id, "cancel_task");
      } catch (err) {
        error.textContent = describeError(err);
        error.hidden = false;
      }
    });
    this.dialog.replaceChildren(form);
    this.dialog.setAttribute("aria-label", title);
    this.dialog.showModal();
    note.input.focus();
  }
}

/** A resolve refused for a co-handler's open part: which departments, in the dispatcher's words. */
function openParts(err, incident) {
  if (err.code !== "department_part_open") return "";
  const open = (incident.department_tasks || []).filter((part) => ["sent", "accepted"].includes(part.state));
  const named = open.map((part) => `${departmentName(part.department_id)}（${t(`department_task_state.${part.state}`)}）`);
  return named.length ? ` — ${named.join("、")}` : "";
}

function textArea(label, name, required) {
  const id = `field-${name}`;
  const input = h("textarea", { id, name, rows: "3", maxlength: "2000", required: required || null, autofocus: required || null });
  return { input, element: h("div", { class: "field" }, h("label", { for: id }, label), input) };
}

function select(label, options, chosen) {
  const id = `field-${label.length}-${Math.random().toString(36).slice(2, 7)}`;
  const input = h("select", { id }, ...options.map(([value, text]) => h("option", { value, selected: String(value) === String(chosen ?? "") || null }, text)));
  return { input, element: h("div", { class: "field" }, h("label", { for: id }, label), input) };
}

/** The suggested units as a list of radio buttons: name, distance, qualified or not. */
function unitPicker(suggestions, preselect) {
  const name = `unit-${Math.random().toString(36).slice(2, 7)}`;
  const items = suggestions.map((unit, index) =>
    h(
      "label",
      { class: "unit-choice" },
      h("input", { type: "radio", name, value: unit.id, checked: (preselect ? unit.id === preselect : index === 0) || null }),
      h("span", { class: "unit-name" }, unit.name),
      h("span", { class: "muted" }, `${jurisdictionName(unit.jurisdiction)} · ${distance(unit.distance_m)}`),
      h("span", { class: unit.qualified ? "ok" : "warn" }, unit.qualified ? `✓ ${t("detail.qualified")}` : `! ${t("detail.not_qualified")}`),
    ),
  );
  const element = h(
    "fieldset",
    { class: "field unit-picker" },
    h("legend", {}, t("dialog.responder")),
    items.length ? items : h("p", { class: "muted" }, t("detail.no_suggestions")),
  );
  return {
    element,
    value: () => {
      const checked = element.querySelector("input:checked");
      if (!checked) throw new Error(t("dialog.pick_responder"));
      return checked.value;
    },
  };
}
