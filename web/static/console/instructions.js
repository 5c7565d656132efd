// Instructions from the prefecture (上级指令): an alarm panel that rings and stays until a
// dispatcher presses 确认收到; after a reload the open ones come back from the server.

import { api, describeError } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { askText } from "./ask_text.js";
import { h, icon, jurisdictionName, timeOfDay } from "/static/common/format.js";

const RING_AGAIN_MS = 20000;

/** One instruction from an event payload or a list row, whatever the row calls its fields. */
export function instructionOf(incidentId, p) {
  return {
    incident_id: p.incident_id ?? incidentId,
    identifier: p.identifier ?? p.instruction_identifier ?? p.instruction,
    text: p.text || "",
    from: p.sender || p.from || "",
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
      // At a prefecture the list also holds the instructions it sent: those ring at the county.
      const rows = (answer.instructions || []).filter((row) => row.direction !== "sent");
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

  /** POST the acknowledgement; the alarm goes at once (the event confirms it to every console). */
  async send(instruction) {
    const path = `/api/v1/incidents/${instruction.incident_id}/instructions/${encodeURIComponent(instruction.identifier)}/acknowledge`;
    await api("POST", path, {});
    this.open.delete(instruction.identifier);
    this.render();
  }

  async acknowledge(instruction, button) {
    button.disabled = true;
    try {
      await this.send(instruction);
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

/**
 * The incident's instructions in its detail: at a county those received (acknowledge here too),
 * at the prefecture those sent with how far they got, and 下达指令 when the incident came from a
 * county (`county_link`). onDone() after a change landed; dialog: the console's action dialog.
 */
export function instructionSection(incident, { dialog, onAcknowledge, onDone }) {
  const rows = incident.instructions || [];
  // At a prefecture the detail names the county incident it stands for: that county is instructed.
  const fromCounty = Boolean(incident.county_link);
  if (!rows.length && !fromCounty) return null;
  const list = h(
    "ul",
    { class: "instruction-list" },
    ...rows.map((row) =>
      h(
        "li",
        { dataset: { identifier: row.identifier } },
        h("span", { class: `delivery delivery-${row.state === "acknowledged" || row.state === "delivered" ? "delivered" : "queued"}` }, t(`instruction.state.${row.state}`, { fallback: row.state })),
        h("span", { class: "instruction-row-text" }, row.text),
        h(
          "span",
          { class: "muted" },
          row.direction === "sent" ? `${jurisdictionName(row.county)} #${row.county_incident_id}` : row.sender,
          ` · ${timeOfDay(row.sent_at)}`,
          row.acknowledged_by ? ` · ${t("instruction.acknowledged_by", { by: row.acknowledged_by })}` : "",
        ),
        row.direction === "received" && row.state === "received"
          ? h("button", { type: "button", class: "small primary", onclick: () => onAcknowledge(instructionOf(incident.id, row)) }, t("instruction.acknowledge"))
          : null,
      ),
    ),
  );
  const instruct = fromCounty
    ? h("button", { type: "button", class: "small", dataset: { trigger: "instruct" }, onclick: () => openInstruct(incident, dialog, onDone) }, t("instruction.instruct"))
    : null;
  const heading = fromCounty ? t("detail.instructions_sent") : t("detail.instructions");
  const county = fromCounty
    ? h("p", { class: "muted" }, t("instruction.county_incident", { county: jurisdictionName(incident.county_link.county), id: incident.county_link.county_incident_id }))
    : null;
  return h("section", { class: "detail-section" }, h("h3", {}, heading), county, instruct, rows.length ? list : null);
}

/** The prefecture's dispatcher writes an instruction to the county the incident came from. */
function openInstruct(incident, dialog, onDone) {
  askText(dialog, {
    name: "instruction",
    title: t("instruction.instruct_title", { id: incident.id }),
    label: t("instruction.text"),
    missing: t("instruction.text_required"),
    rows: 4,
    send: async (words) => {
      await api("POST", `/api/v1/incidents/${incident.id}/instruct`, { text: words });
      onDone(incident.id);
    },
  });
}
