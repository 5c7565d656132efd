// Events and actors in a dispatcher's words: what the timeline and the printed report show.

import { t } from "/static/common/i18n.js";
import { categoryName, departmentName, distance, jurisdictionName, severityLabel, tierName } from "/static/common/format.js";

/** "dispatcher:wang" → "调度员 wang"; units by their name; the server's own hands → 系统. */
export function actorWords(actor, units = new Map()) {
  if (!actor) return "";
  const [role, ...rest] = actor.split(":");
  const name = rest.join(":");
  if (role === "system") return t("actor.system");
  if (role === "responder") return `${t("role.responder")} ${units.get(name)?.name || name}`;
  if (role === "anonymous") return actor;
  return `${t(`role.${role}`, { fallback: role })} ${name}`.trim();
}

export function unitName(id, units) {
  return units.get(id)?.name || id;
}

/** The details of one event, beyond its type: who, where, how, why. */
export function eventDetail(event, units = new Map()) {
  const p = event.payload || {};
  const parts = [];
  switch (event.type) {
    case "alert_received":
      parts.push(`${t(`kind.${p.kind}`)} ${p.source}`);
      parts.push(p.new_incident ? t("event.detail.new_incident") : t("event.detail.duplicate_of", { n: p.alert_count }));
      break;
    case "incident_reported":
      parts.push(`${categoryName(p.category)} · ${severityLabel(p.severity, true)} · ${jurisdictionName(p.jurisdiction_id)}`);
      break;
    case "incident_escalated":
    case "incident_delegated":
      parts.push(
        `${tierName(p.from_tier)} ${jurisdictionName(p.from_jurisdiction_id)} → ${tierName(p.to_tier)} ${jurisdictionName(p.to_jurisdiction_id)}`,
      );
      break;
    case "incident_assigned":
      parts.push(unitName(p.responder_id, units));
      break;
    case "incident_reassigned":
      parts.push(`${unitName(p.from_responder_id, units)} → ${unitName(p.to_responder_id, units)}`);
      break;
    case "incident_department_added":
    case "incident_department_removed":
      parts.push(departmentName(p.department));
      break;
    case "incident_merged":
      parts.push(`→ #${p.into_incident_id}`);
      break;
    case "incident_notified":
      parts.push((p.jurisdiction_ids || []).map(jurisdictionName).join("、"));
      break;
    case "incident_severity_raised":
      parts.push(`${severityLabel(p.from_severity, true)} → ${severityLabel(p.to_severity, true)}`);
      break;
    case "incident_forwarded":
      parts.push(p.prefecture_id || "");
      break;
    case "incident_unanswered":
      parts.push(jurisdictionName(p.owner_jurisdiction_id));
      break;
    case "task_assigned":
      parts.push(`${unitName(p.responder_id, units)} · ${tierName(p.tier)}`);
      if (p.distance_m !== null && p.distance_m !== undefined) parts.push(t("event.detail.distance", { d: distance(p.distance_m) }));
      break;
    case "outbound_queued":
    case "outbound_delivered":
    case "outbound_refused":
      parts.push(destinationWords(p.destination));
      parts.push(p.summary || p.identifier || "");
      if (event.type === "outbound_delivered" && p.attempts > 1) parts.push(t("outbound.attempts", { n: p.attempts }));
      if (event.type === "outbound_refused") parts.push(p.error || p.last_error || "");
      break;
    case "instruction_sent":
      parts.push(`→ ${jurisdictionName(p.county)} #${p.county_incident_id}`);
      break;
    case "instruction_received":
      parts.push(t("instruction.from", { from: p.sender || p.from || "" }));
      break;
    case "instruction_acknowledged":
      // At the prefecture the county's dispatcher; at the county the actor already says who.
      if (p.by && !String(event.actor || "").endsWith(`:${p.by}`)) parts.push(t("instruction.acknowledged_by", { by: p.by }));
      break;
    case "county_update":
      parts.push(
        [
          `${jurisdictionName(p.sender)} #${p.county_incident_id}`,
          p.msg_type,
          p.county_state ? t(`incident_state.${p.county_state}`, { fallback: p.county_state }) : "",
          p.change ? t(`event.${p.change}`, { fallback: p.change }) : "",
        ]
          .filter(Boolean)
          .join(" · "),
      );
      break;
    default:
      if (event.type.startsWith("department_task_")) {
        parts.push(departmentName(p.department_id ?? p.department));
      } else if (event.type.startsWith("task_")) {
        parts.push(unitName(p.responder_id, units));
        if (p.channel) parts.push(t(`channel.${p.channel}`, { fallback: p.channel }));
      }
  }
  const why = p.reason || p.note || (event.type.startsWith("instruction_") ? p.text : "");
  return { text: parts.filter(Boolean).join(" · "), why: why || "" };
}

/** Where a message went: the prefecture above, a county below, a department's desk. */
export function destinationWords(destination) {
  const [kind, ...rest] = String(destination || "").split(":");
  const id = rest.join(":");
  if (kind === "upstream") return t("outbound.destination.upstream");
  if (kind === "county") return jurisdictionName(id);
  if (kind === "department") return departmentName(id);
  return destination || "";
}

/** 138****1234: enough to tell callers apart (the server masks titles the same way). */
export function maskNumber(number) {
  let digits = String(number || "").replace(/\D/g, "");
  if (String(number).trim().startsWith("+86")) digits = digits.slice(2);
  if (digits.length >= 8) return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
  return "*".repeat(Math.max(digits.length - 2, 1)) + digits.slice(-2);
}
