// The big screen's panels: today's figures, what is open by grade, state and category, the
// response times per tier and per town, and the band of major incidents. All drawn from one
// answer of GET /api/v1/stats; nothing is counted here.

import { t } from "/static/common/i18n.js";
import {
  categoryName,
  h,
  incidentStateName,
  jurisdictionName,
  placeWords,
  severityBadge,
  severityLabel,
  tierName,
  timeOfDay,
} from "/static/common/format.js";

/** Seconds as big numbers with small units: 45秒, 1分30秒, 1小时5分 ("—" when none). */
export function durationElement(seconds) {
  if (seconds === null || seconds === undefined) return h("span", { class: "duration none" }, t("screen.no_data"));
  const total = Math.round(seconds);
  const parts = [];
  if (total >= 3600) {
    parts.push([Math.floor(total / 3600), "screen.unit_hour"], [Math.floor((total % 3600) / 60), "screen.unit_min"]);
  } else if (total >= 60) {
    parts.push([Math.floor(total / 60), "screen.unit_min"]);
    if (total % 60) parts.push([total % 60, "screen.unit_sec"]);
  } else {
    parts.push([total, "screen.unit_sec"]);
  }
  const children = [];
  parts.forEach(([value, unit], index) => {
    if (index) children.push(t("screen.unit_join"));
    children.push(h("b", {}, String(value)), h("small", {}, t(unit)));
  });
  return h("span", { class: total >= 3600 ? "duration long" : "duration" }, ...children);
}

/** The town column's name: the city's own bucket holds the places outside every town. */
export function townName(id, root) {
  return id === root ? t("screen.city_level") : jurisdictionName(id);
}

function setNumber(id, value) {
  const element = document.getElementById(id);
  const text = String(value);
  if (element.textContent !== text) {
    element.textContent = text;
    element.classList.remove("changed");
    void element.offsetWidth; // restart the highlight
    element.classList.add("changed");
  }
}

function bar(label, count, max, extra = {}) {
  const share = max > 0 ? Math.max(2, Math.round((count / max) * 100)) : 0;
  return h(
    "div",
    { class: `bar-row ${extra.class || ""}`, dataset: extra.dataset || {} },
    h("span", { class: "bar-label" }, label),
    h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: `width: ${count ? share : 0}%` })),
    h("span", { class: "bar-value" }, String(count)),
  );
}

export function renderToday(stats) {
  document.getElementById("today-heading").textContent = t("screen.today_since", {
    time: timeOfDay(stats.since).slice(0, 5),
  });
  setNumber("opened", stats.period.opened);
  setNumber("resolved", stats.period.resolved);
  setNumber("escalated", stats.period.escalated);
  setNumber("overdue", stats.open.overdue);
  document.querySelector('[data-figure="overdue"]').classList.toggle("alarm", stats.open.overdue > 0);
  document.querySelector('[data-figure="overdue"]').title = t("screen.overdue_hint");
}

export function renderOpen(stats) {
  setNumber("open-total", stats.open.total);
  document.getElementById("by-severity").replaceChildren(
    ...stats.open.by_severity.map((each) =>
      h(
        "span",
        { class: `severity-count${each.count ? "" : " zero"}`, dataset: { severity: each.severity }, title: severityLabel(each.severity) },
        severityBadge(each.severity),
        h("b", {}, String(each.count)),
      ),
    ),
  );
  const states = stats.open.by_state;
  const most = Math.max(0, ...states.map((each) => each.count));
  document.getElementById("by-state").replaceChildren(
    ...states.map((each) => bar(incidentStateName(each.state), each.count, most, { class: `state-${each.state}`, dataset: { state: each.state } })),
  );

  const categories = stats.open.by_category.filter((each) => each.count > 0).sort((a, b) => b.count - a.count);
  const target = document.getElementById("by-category");
  if (!categories.length) {
    target.replaceChildren(h("p", { class: "empty" }, t("screen.none_open")));
    return;
  }
  const top = categories[0].count;
  const rows = categories.map((each) =>
    h(
      "div",
      { class: "category", dataset: { category: each.category } },
      h("span", { class: "bar-label" }, categoryName(each.category)),
      h("span", { class: "bar-value" }, String(each.count)),
      h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: `width: ${Math.max(4, Math.round((each.count / top) * 100))}%` })),
    ),
  );
  target.replaceChildren(...rows);
  // As many as the panel holds, largest first; the rest are counted in one line.
  const panel = target.closest(".panel");
  const overflowing = () => panel.scrollHeight > panel.clientHeight + 1;
  if (!overflowing()) return;
  const more = h("p", { class: "more" });
  target.append(more);
  do {
    rows.pop().remove();
    more.textContent = t("screen.more_categories", { n: categories.length - rows.length });
  } while (rows.length > 1 && overflowing());
}

export function renderTiers(stats) {
  document.getElementById("tiers").replaceChildren(
    ...stats.tiers.map((each) =>
      h(
        "div",
        { class: "tier-row", dataset: { tier: each.tier } },
        h(
          "div",
          { class: "tier-head" },
          h("span", { class: "tier-name" }, tierName(each.tier)),
          h("span", { class: "tier-open" }, `${t("screen.open_short")} `, h("b", {}, String(each.open))),
        ),
        timeCell("accept", each.accept),
        timeCell("arrive", each.arrive),
      ),
    ),
  );
}

function timeCell(measure, times) {
  return h(
    "div",
    { class: `tier-time ${measure}`, dataset: { measure } },
    h("span", { class: "tier-time-label" }, t(`screen.${measure}_median`), h("small", {}, t("screen.samples", { n: times.count }))),
    h("span", { class: "tier-time-value" }, durationElement(times.median_s)),
  );
}

export function renderTowns(stats, root) {
  document.querySelector("#towns tbody").replaceChildren(
    ...stats.towns.map((each) =>
      h(
        "tr",
        { dataset: { town: each.town }, class: each.open ? "busy" : null },
        h("th", { scope: "row" }, townName(each.town, root)),
        h("td", { class: "open" }, String(each.open)),
        h("td", { class: each.overdue ? "overdue late" : "overdue" }, String(each.overdue)),
        h("td", { class: "opened" }, String(each.opened)),
        h("td", { class: "accept" }, durationElement(each.accept.median_s)),
        h("td", { class: "arrive" }, durationElement(each.arrive.median_s)),
      ),
    ),
  );
}

/** The band of open grade I/II incidents, newest first; fresh ones flash. True: it came or went. */
export function renderSevere(stats, fresh) {
  const severe = stats.incidents.filter((each) => each.severity <= 2);
  const band = document.getElementById("severe");
  const changed = band.hidden !== (severe.length === 0);
  band.hidden = severe.length === 0;
  const items = severe.map((each) =>
    h(
      "span",
      { class: `severe-item${fresh.has(each.id) ? " fresh" : ""}`, dataset: { incident: each.id } },
      severityBadge(each.severity, false),
      h("b", {}, categoryName(each.category)),
      h("span", {}, placeWords(each.jurisdiction)),
      h("span", { class: "muted" }, timeOfDay(each.created_at).slice(0, 5)),
      h("span", { class: "state" }, incidentStateName(each.state)),
    ),
  );
  const list = document.getElementById("severe-list");
  list.replaceChildren(...items);
  // Scroll like a ticker only when the band cannot hold them all.
  list.classList.remove("scrolling");
  if (list.scrollWidth > list.parentElement.clientWidth) {
    list.append(...items.map((item) => item.cloneNode(true)));
    list.classList.add("scrolling");
    list.style.animationDuration = `${Math.max(20, severe.length * 8)}s`;
  }
  return changed;
}
