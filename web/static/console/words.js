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
    case "outbound_queued":
    case "outbound_delivered":
      parts.push(p.summary || p.identifier || "");
      break;
    case "outbound_refused":
      parts.push(`${p.summary || p.identifier || ""} · ${p.error || ""}`);
      break;
    case "incident_unanswered":
      parts.push(jurisdictionName(p.owner_jurisdiction_id));
      break;
    case "task_assigned":
      parts.push(`${unitName(p.responder_id, units)} · ${tierName(p.tier)}`);
      if (p.distance_m !== null && p.distance_m !== undefined) parts.push(t("event.detail.distance", { d: distance(p.distance_m) }));
      break;
    default:
      if (event.type.startsWith("task_")) {
        parts.push(unitName(p.responder_id, units));
        if (p.channel) parts.push(t(`channel.${p.channel}`, { fallback: p.channel }));
      }
  }
  const why = p.reason || p.note;
  return { text: parts.filter(Boolean).join(" · "), why: why || "" };
}

/** 138****1234: enough to tell callers apart (the server masks titles the same way). */
export function maskNumber(number) {
  let digits = String(number || "").replace(/\D/g, "");
  if (String(number).trim().startsWith("+86")) digits = digits.slice(2);
  if (digits.length >= 8) return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
  return "*".repeat(Math.max(digits.length - 2, 1)) + digits.slice(-2);
}
