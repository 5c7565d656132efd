// The big screen's map: the jurisdiction polygons with no tiles (it works offline), towns shaded
// by their open incidents with the count written on each, and the open incidents by grade.

import { t } from "/static/common/i18n.js";
import { categoryName, h, roman, severityLabel } from "/static/common/format.js";
import { CityMap } from "/static/common/map.js";

const L = window.L;

/** Open incidents of a town → its shade; the number is always written beside it too. */
const LOAD_STEPS = [
  { from: 0, fill: "#000000", opacity: 0.0, label: "0" },
  { from: 1, fill: "#f4a261", opacity: 0.28, label: "1" },
  { from: 2, fill: "#f08c3a", opacity: 0.42, label: "2–4" },
  { from: 5, fill: "#e2582f", opacity: 0.55, label: "5–9" },
  { from: 10, fill: "#d7263d", opacity: 0.68, label: "≥10" },
];

function loadStep(count) {
  return LOAD_STEPS.reduce((found, step) => (count >= step.from ? step : found), LOAD_STEPS[0]);
}

/** A marker large enough for the hall: the grade's colour and its numeral. */
function bigIncidentIcon(severity, { flashing = false, overdue = false } = {}) {
  const classes = ["incident-marker", "screen-marker", `sev-${severity}`];
  if (flashing) classes.push("flashing");
  if (overdue) classes.push("overdue");
  return L.divIcon({ className: classes.join(" "), html: `<span>${roman(severity)}</span>`, iconSize: [40, 40], iconAnchor: [20, 20] });
}

export class ScreenMap {
  constructor(element, settings) {
    this.city = new CityMap(element, settings, { labels: "towns", keyboard: false });
    const map = this.city.map;
    // A wall shows the whole area: nobody drags or zooms it.
    for (const handler of [map.dragging, map.scrollWheelZoom, map.doubleClickZoom, map.boxZoom, map.touchZoom, map.keyboard]) {
      if (handler) handler.disable();
    }
    if (map.zoomControl) map.zoomControl.remove();
    this.countLayer = L.layerGroup().addTo(map);
    this.incidentLayer = L.layerGroup().addTo(map);
    this.markers = new Map();
    this.centers = new Map();
  }

  async ready() {
    const collection = await this.city.drawJurisdictions();
    for (const feature of collection.features) this.centers.set(feature.id, feature.properties.center);
    this.towns = collection.features.filter((feature) => feature.properties.tier === "town").map((feature) => feature.id);
    this.fit();
  }

  /** The whole area, at once: a wall never animates its zoom (nor waits for one to end). */
  fit() {
    const bounds = this.city.bounds;
    if (!bounds || !bounds.isValid()) return;
    const map = this.city.map;
    map.invalidateSize({ pan: false });
    map.setView(bounds.getCenter(), map.getBoundsZoom(bounds, false, L.point(24, 24)), { animate: false });
  }

  /** Shade every town by its open incidents and write the number on it. */
  shadeTowns(stats) {
    const open = new Map(stats.towns.map((each) => [each.town, each.open]));
    this.countLayer.clearLayers();
    for (const town of this.towns || []) {
      const count = open.get(town) || 0;
      const step = loadStep(count);
      this.city.shade(town, { fillColor: step.fill, fillOpacity: step.opacity });
      const center = this.centers.get(town);
      if (!center) continue;
      L.marker(this.city.point(center.lat, center.lon), {
        icon: L.divIcon({
          className: `town-count${count ? " busy" : ""}`,
          html: `<span data-town="${town}">${count}</span>`,
          iconSize: [44, 30],
          iconAnchor: [22, -10],
        }),
        interactive: false,
        keyboard: false,
      }).addTo(this.countLayer);
    }
  }

  /** The open incidents as markers; `fresh` ids (just reported) flash. */
  showIncidents(incidents, fresh) {
    this.incidents = incidents;
    const keep = new Set();
    for (const incident of incidents) {
      const where = incident.location || this.centers.get(incident.jurisdiction);
      if (!where) continue;
      keep.add(incident.id);
      const at = this.city.point(where.lat, where.lon);
      const icon = bigIncidentIcon(incident.severity, { flashing: fresh.has(incident.id), overdue: incident.overdue });
      const key = `${incident.severity}|${fresh.has(incident.id)}|${incident.overdue}`;
      let marker = this.markers.get(incident.id);
      if (!marker) {
        marker = L.marker(at, { icon, keyboard: false, interactive: false, title: `#${incident.id}` });
        marker.addTo(this.incidentLayer);
        this.markers.set(incident.id, marker);
      } else {
        marker.setLatLng(at);
        if (marker._screenKey !== key) marker.setIcon(icon);
      }
      marker._screenKey = key;
      marker.getElement()?.setAttribute("aria-label", `${severityLabel(incident.severity)} ${categoryName(incident.category)}`);
      marker.setZIndexOffset((5 - incident.severity) * 100);
    }
    for (const [id, marker] of this.markers) {
      if (!keep.has(id)) {
        marker.remove();
        this.markers.delete(id);
      }
    }
  }

  /** An incident just reported (from the live event), before the next figures arrive. */
  addFresh(incident, fresh) {
    if (!this.markers.has(incident.id)) this.showIncidents([incident, ...(this.incidents || [])], fresh);
  }

  legend(element) {
    element.replaceChildren(
      h("span", { class: "legend-title" }, t("screen.load")),
      ...LOAD_STEPS.map((step) =>
        h("span", { class: "legend-item" }, h("i", { class: "legend-swatch", style: `background: ${step.opacity ? step.fill : "transparent"}; opacity: ${step.opacity ? 0.85 : 1}` }), step.label),
      ),
      ...[1, 2, 3, 4].map((severity) =>
        h(
          "span",
          { class: "legend-item", title: severityLabel(severity) },
          h("i", { class: `legend-grade sev-${severity}` }, roman(severity)),
          h("span", { class: "grade-words" }, severityLabel(severity, true)),
        ),
      ),
      h("span", { class: "legend-item" }, h("i", { class: "legend-overdue", "aria-hidden": "true" }), t("screen.overdue_short")),
    );
  }
}
