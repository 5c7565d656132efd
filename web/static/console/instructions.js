// Instructions from the prefecture (上级指令): an alarm panel that rings and stays until a
// dispatcher presses 确认收到; after a reload the open ones come back from the server.

import { api, describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { h, icon, timeOfDay } from "/static/common/format.js";

const RING_AGAIN_MS = 20000;

/** One instruction from an event payload or a list row, whatever the row calls its fields. */
export function instructionOf(incidentId, p) {
  return {
    incident_id: p.incident_id ?? incidentId,
    identifier: p.identifier ?? p.instruction_identifier ?? p.instruction,
    text: p.text || "",
    from: p.from || p.from_name || "",
    sent_at: p.sent_at || p.received_at || null,
  };
}

export class InstructionAlarm {
  /** onOpen(incidentId) shows the incident; ring() sounds the alarm; onError(text) says why not. */
  constructor(region, { onOpen, ring, onError }) {
    this.region = region;
    this.onOpen = onOpen;
    this.ring = ring;
    this.onError = onError;
    this.open = new Map();
    this.timer = setInterval(() => {
      if (this.open.size) this.ring();
    }, RING_AGAIN_MS);
  }

  /** The open ones of the dispatcher's scope (after a reload, after a reconnect). */
  async load() {
    try {
      const answer = await api("GET", "/api/v1/instructions?open=true");
      const rows = answer.instructions || [];
      const before = this.open.size;
      this.open = new Map(rows.map((row) => instructionOf(row.incident_id, row)).map((each) => [each.identifier, each]));
      this.render();
      if (this.open.size > before) this.ring();
    } catch (err) {
      if (![401, 403, 404].includes(err.status)) console.warn("instructions failed", describeError(err));
    }
  }

  onEvent(event) {
    const p = event.payload || {};
    if (event.type === "instruction_received") {
      const instruction = instructionOf(event.incident_id, p);
      if (!instruction.identifier || this.open.has(instruction.identifier)) return;
      this.open.set(instruction.identifier, instruction);
      this.render();
      this.ring();
    } else if (event.type === "instruction_acknowledged") {
      const identifier = p.identifier ?? p.instruction_identifier ?? p.instruction;
      if (this.open.delete(identifier)) this.render();
    }
  }

  async acknowledge(instruction, button) {
    button.disabled = true;
    try {
      const path = `/api/v1/incidents/${instruction.incident_id}/instructions/${encodeURIComponent(instruction.identifier)}/acknowledge`;
      await api("POST", path, {});
      this.open.delete(instruction.identifier);
      this.render();
    } catch (err) {
      button.disabled = false;
      this.onError(describeError(err));
    }
  }

  render() {
    const items = [...this.open.values()].sort((a, b) => String(a.sent_at).localeCompare(String(b.sent_at)));
    this.region.hidden = items.length === 0;
    this.region.replaceChildren(
      ...items.map((each) => {
        const acknowledge = h("button", { type: "button", class: "primary" }, icon("check"), t("instruction.acknowledge"));
        acknowledge.addEventListener("click", () => this.acknowledge(each, acknowledge));
        return h(
          "div",
          { class: "instruction", dataset: { identifier: each.identifier, incident: each.incident_id } },
          icon("alarm"),
          h("strong", { class: "instruction-label" }, t("instruction.label")),
          h(
            "div",
            { class: "instruction-body" },
            h("p", { class: "instruction-text" }, each.text),
            h(
              "p",
              { class: "instruction-meta" },
              `#${each.incident_id}`,
              each.from ? ` · ${t("instruction.from", { from: each.from })}` : "",
              each.sent_at ? ` · ${t("instruction.sent_at", { time: timeOfDay(each.sent_at) })}` : "",
            ),
          ),
          h("button", { type: "button", class: "small", onclick: () => this.onOpen(each.incident_id) }, t("announce.open")),
          acknowledge,
        );
      }),
    );
  }
}
