// Names and numbers as people read them: grades, categories, places, ages and countdowns.

import { language, t } from "./i18n.js";
import { session } from "./api.js";

const ROMAN = { 1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ" };

export function catalogMaps(catalog) {
  return {
    categories: new Map(catalog.categories.map((each) => [each.id, each])),
    departments: new Map(catalog.departments.map((each) => [each.id, each])),
    jurisdictions: new Map(catalog.jurisdictions.map((each) => [each.id, each])),
  };
}

let maps = null;
function names() {
  if (!maps && session) maps = catalogMaps(session.catalog);
  return maps || { categories: new Map(), departments: new Map(), jurisdictions: new Map() };
}

export function roman(severity) {
  return ROMAN[severity] || "?";
}

export function severityLabel(severity, short = false) {
  return t(`${short ? "severity_short" : "severity"}.${severity}`);
}

export function categoryName(id) {
  const category = names().categories.get(id);
  if (!category) return id;
  return language === "en" && category.name_en ? category.name_en : category.name;
}

export function departmentName(id) {
  const department = names().departments.get(id);
  if (!department) return id;
  return language === "en" && department.name_en ? department.name_en : department.name;
}

export function jurisdictionName(id) {
  return names().jurisdictions.get(id)?.name || id || t("common.unknown");
}

/** The place's town and street names (town / street), from a jurisdiction id. */
export function placeWords(id) {
  const path = [];
  let node = names().jurisdictions.get(id);
  while (node) {
    if (node.tier !== "city") path.unshift(node.name);
    node = node.parent ? names().jurisdictions.get(node.parent) : null;
  }
  return path.length ? path.join(" / ") : jurisdictionName(id);
}

/** The town a jurisdiction lies in (itself when it is one); null for the city. */
export function townOf(id) {
  let node = names().jurisdictions.get(id);
  while (node && node.tier !== "town") node = node.parent ? names().jurisdictions.get(node.parent) : null;
  return node ? node.id : null;
}

export function tierName(tier) {
  return t(`tier.${tier}`);
}

export function incidentStateName(state) {
  return t(`incident_state.${state}`);
}

export function taskStateName(state) {
  return t(`task_state.${state}`);
}

/** 45 秒 / 3 分 / 2 小时 / 1 天: the largest unit that fits. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("common.seconds", { n: s });
  if (s < 3600) return t("common.minutes", { n: Math.floor(s / 60) });
  if (s < 86400) return t("common.hours", { n: Math.floor(s / 3600) });
  return t("common.days", { n: Math.floor(s / 86400) });
}

/** mm:ss (or h:mm:ss) for countdowns that tick every second. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Math.abs(seconds)));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

export function age(iso, now = Date.now()) {
  return duration((now - Date.parse(iso)) / 1000);
}

/** The time left to a deadline, or how long it is overdue: {text, overdue, seconds}. */
export function countdown(iso, now = Date.now()) {
  if (!iso) return null;
  const seconds = (Date.parse(iso) - now) / 1000;
  return { seconds, overdue: seconds < 0, text: seconds < 0 ? t("common.overdue_by", { t: clock(seconds) }) : clock(seconds) };
}

export function distance(meters) {
  if (meters === null || meters === undefined || Number.isNaN(meters)) return t("common.unknown");
  if (meters < 1000) return t("common.meters", { n: Math.round(meters) });
  return t("common.kilometers", { n: (meters / 1000).toFixed(meters < 10000 ? 1 : 0) });
}

/** Great-circle distance in meters between two WGS-84 points. */
export function metersBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A time of day (HH:MM:SS) or date and time, in the configured zone. */
export function timeOfDay(iso, withDate = false) {
  if (!iso) return "—";
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  if (session?.settings?.timezone) options.timeZone = session.settings.timezone;
  return new Intl.DateTimeFormat(language === "en" ? "en-GB" : "zh-CN", options).format(new Date(iso));
}

/** Build an element: h("div", {class: "x", onclick}, child, "text", …). */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The severity badge: colour and the grade's label and numeral (colour is never the only sign). */
export function severityBadge(severity, short = true) {
  return h(
    "span",
    { class: `severity sev-${severity}`, title: severityLabel(severity) },
    h("span", { class: "severity-icon", "aria-hidden": "true" }, roman(severity)),
    h("span", { class: "severity-text" }, severityLabel(severity, short)),
  );
}

/** One of the icons of /static/common/icons.svg (no icon font, no emoji font needed). */
export function icon(name, label) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("viewBox", "0 0 24 24");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `/static/common/icons.svg#${name}`);
  svg.append(use);
  return svg;
}

/** An alert kind (the channel it came by): its icon, named for screen readers and on hover. */
export function kindBadge(kind) {
  return h("span", { class: `kind kind-${kind}`, title: t(`kind.${kind}`) }, icon(kind, t(`kind.${kind}`)));
}
