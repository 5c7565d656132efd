// The printable after-action report of one incident: facts, response times, tasks, alerts, timeline.

import { api, describeError, loadSession } from "/static/common/api.js";
import { applyWords, loadWords, t } from "/static/common/i18n.js";
import {
  categoryName,
  departmentName,
  duration,
  h,
  incidentStateName,
  jurisdictionName,
  placeWords,
  severityBadge,
  taskStateName,
  tierName,
  timeOfDay,
} from "/static/common/format.js";
import { actorWords, eventDetail } from "./words.js";

const seconds = (from, to) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);
const first = (values) => values.filter(Boolean).sort()[0] || null;

async function main() {
  const session = await loadSession({ roles: ["dispatcher", "admin"] });
  await loadWords(session.settings.language);
  applyWords();
  document.getElementById("print").addEventListener("click", () => window.print());
  const report = document.getElementById("report");
  const id = Number(new URLSearchParams(location.search).get("id"));
  if (!id) {
    report.replaceChildren(h("p", { role: "alert" }, t("report.no_incident")));
    return;
  }
  let incident;
  let units;
  try {
    [incident, units] = await Promise.all([api("GET", `/api/v1/incidents/${id}`), api("GET", "/api/v1/responders")]);
  } catch (err) {
    report.replaceChildren(h("p", { role: "alert" }, describeError(err)));
    return;
  }
  const names = new Map(units.responders.map((unit) => [unit.id, unit]));
  document.title = `${t("report.title")} #${incident.id}`;
  const firstTask = first(incident.tasks.map((task) => task.created_at));
  const accepted = first(incident.tasks.map((task) => task.milestones.accepted));
  const arrived = first(incident.tasks.map((task) => task.milestones.on_scene));
  const show = (value) => (value === null ? "—" : duration(value));
  report.replaceChildren(
    h("h1", {}, `${t("report.title")} · #${incident.id} ${categoryName(incident.category)}`),
    h("p", { class: "meta" }, `${t("report.generated", { time: timeOfDay(new Date().toISOString(), true) })} · ${t("report.by", { name: session.user.name })}`),
    h(
      "dl",
      { class: "facts" },
      ...pair(t("filter.severity"), severityBadge(incident.severity, false)),
      ...pair(t("filter.state"), incidentStateName(incident.state)),
      ...pair(t("detail.place"), placeWords(incident.jurisdiction)),
      ...pair(t("detail.owner"), `${tierName(incident.owner.tier)} · ${jurisdictionName(incident.owner.jurisdiction)}`),
      ...pair(t("detail.reported"), timeOfDay(incident.created_at, true)),
      ...pair(t("detail.departments"), incident.departments.map(departmentName).join("、")),
      ...pair(t("detail.alerts"), String(incident.alert_count)),
      ...pair(t("detail.summary"), incident.summary || "—"),
    ),
    h("p", {}, incident.title || ""),
    h("h2", {}, t("report.times")),
    table(
      [t("report.to_accept"), t("report.to_arrive"), t("report.to_resolve")],
      [[show(seconds(firstTask, accepted)), show(seconds(firstTask, arrived)), show(seconds(incident.created_at, incident.milestones.resolved))]],
    ),
    h("h2", {}, t("detail.tasks")),
    table(
      [t("task.responder"), t("filter.tier"), t("filter.state"), t("milestone.accepted"), t("milestone.on_scene"), t("milestone.done"), t("report.to_accept"), t("report.to_arrive")],
      incident.tasks.map((task) => [
        names.get(task.responder_id)?.name || task.responder_id,
        tierName(task.tier),
        taskStateName(task.state),
        timeOfDay(task.milestones.accepted),
        timeOfDay(task.milestones.on_scene),
        timeOfDay(task.milestones.done),
        show(seconds(task.created_at, task.milestones.accepted)),
        show(seconds(task.created_at, task.milestones.on_scene)),
      ]),
    ),
    h("h2", {}, t("detail.alerts")),
    table(
      [t("report.column.time"), t("filter.category"), t("report.column.detail")],
      incident.alerts.map((alert) => [timeOfDay(alert.observed_at, true), `${t(`kind.${alert.kind}`)} · ${alert.source}`, [alert.title, alert.description].filter(Boolean).join(" — ")]),
    ),
    h("h2", {}, t("detail.timeline")),
    table(
      [t("report.column.time"), t("report.column.event"), t("report.column.actor"), t("report.column.detail")],
      incident.timeline.map((event) => {
        const detail = eventDetail(event, names);
        return [timeOfDay(event.occurred_at, true), t(`event.${event.type}`, { fallback: event.type }), actorWords(event.actor, names), [detail.text, detail.why].filter(Boolean).join(" — ")];
      }),
    ),
  );
}

function pair(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, ...headers.map((each) => h("th", {}, each)))), h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((cell) => h("td", {}, cell))))));
}

main();
