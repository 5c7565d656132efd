// The console's map beside the queue: incidents by grade, units by status (moving as their
// positions arrive), the polygons; clicking an incident selects it in the queue too.

import { t } from "/static/common/i18n.js";
import { categoryName, h, jurisdictionName, severityLabel, timeOfDay } from "/static/common/format.js";
import { CityMap, incidentIcon, unitIcon } from "/static/common/map.js";

const L = window.L;

export class ConsoleMap {
  constructor(element, settings, { onPickIncident, onAssign }) {
    this.city = new CityMap(element, settings);
    this.onPickIncident = onPickIncident;
    this.onAssign = onAssign;
    this.incidentLayer = L.layerGroup().addTo(this.city.map);
    this.unitLayer = L.layerGroup().addTo(this.city.map);
    this.incidentMarkers = new Map();
    this.unitMarkers = new Map();
    this.units = new Map();
    this.selected = null;
    this.canAssign = false;
    this.legend();
  }

  async ready() {
    await this.city.drawJurisdictions();
  }

  legend() {
    const control = L.control({ position: "bottomleft" });
    control.onAdd = () =>
      h(
        "div",
        { class: "map-legend" },
        ...[1, 2, 3, 4].map((severity) => h("span", { class: "legend-item" }, h("span", { class: `legend-swatch sev-${severity}` }, ["Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ"][severity - 1]), severityLabel(severity, true))),
        ...["available", "busy", "offline"].map((status) =>
          h("span", { class: "legend-item" }, h("span", { class: `legend-unit unit-${status}` }, { available: "✓", busy: "●", offline: "×" }[status]), t(`map.legend.${status}`)),
        ),
      );
    control.addTo(this.city.map);
  }

  /** Show these incidents (those of the queue) and forget the others. */
  showIncidents(incidents) {
    const keep = new Set();
    for (const incident of incidents) {
      if (!incident.location) continue;
      keep.add(incident.id);
      const at = this.city.point(incident.location.lat, incident.location.lon);
      let marker = this.incidentMarkers.get(incident.id);
      const options = { selected: incident.id === this.selected, flashing: Boolean(incident._fresh) };
      if (!marker) {
        marker = L.marker(at, { icon: incidentIcon(incident.severity, options), title: `#${incident.id}`, keyboard: false, riseOnHover: true });
        marker.on("click", () => this.onPickIncident(incident.id));
        marker.addTo(this.incidentLayer);
        this.incidentMarkers.set(incident.id, marker);
      } else {
        marker.setLatLng(at);
        marker.setIcon(incidentIcon(incident.severity, options));
      }
      marker._incident = incident;
      // An element, never an HTML string: Leaflet would parse a string as markup.
      marker.bindTooltip(h("span", {}, `#${incident.id} ${severityLabel(incident.severity, true)} ${categoryName(incident.category)}`), { direction: "top", offset: [0, -12] });
      marker.setZIndexOffset(incident.id === this.selected ? 1000 : (5 - incident.severity) * 100);
    }
    for (const [id, marker] of this.incidentMarkers) {
      if (!keep.has(id)) {
        marker.remove();
        this.incidentMarkers.delete(id);
      }
    }
  }

  select(incident) {
    const previous = this.selected;
    this.selected = incident ? incident.id : null;
    for (const id of [previous, this.selected]) {
      const marker = this.incidentMarkers.get(id);
      if (marker && marker._incident) marker.setIcon(incidentIcon(marker._incident.severity, { selected: id === this.selected }));
    }
    if (incident?.location) {
      const at = this.city.point(incident.location.lat, incident.location.lon);
      if (!this.city.map.getBounds().pad(-0.15).contains(at)) this.city.map.panTo(at);
    }
  }

  /** Units with status, position and whether a device of theirs is connected. */
  showUnits(units) {
    this.units = new Map(units.map((unit) => [unit.id, unit]));
    const keep = new Set();
    for (const unit of units) {
      if (!unit.position || unit.position.lat === null) continue;
      keep.add(unit.id);
      const status = unit.status === "off_duty" ? "off_duty" : unit.online ? unit.status : "offline";
      const at = this.city.point(unit.position.lat, unit.position.lon);
      let marker = this.unitMarkers.get(unit.id);
      if (!marker) {
        marker = L.marker(at, { icon: unitIcon(status), keyboard: false, zIndexOffset: -500 });
        marker.on("click", () => marker.setPopupContent(this.popup(this.units.get(unit.id))));
        marker.bindPopup(() => this.popup(this.units.get(unit.id)));
        marker.addTo(this.unitLayer);
        this.unitMarkers.set(unit.id, marker);
      } else {
        marker.setLatLng(at);
        marker.setIcon(unitIcon(status));
      }
      marker.bindTooltip(h("span", {}, `${unit.name} · ${t(`responder_status.${status}`)}`), { direction: "top", offset: [0, -10] });
    }
    for (const [id, marker] of this.unitMarkers) {
      if (!keep.has(id)) {
        marker.remove();
        this.unitMarkers.delete(id);
      }
    }
  }

  /** Positions pushed by the server (one frame a second at most): move the markers. */
  moveUnits(positions) {
    for (const { id, lat, lon, at } of positions) {
      const unit = this.units.get(id);
      if (unit) {
        unit.position = { lat, lon };
        unit.position_at = at;
      }
      this.unitMarkers.get(id)?.setLatLng(this.city.point(lat, lon));
    }
  }

  popup(unit) {
    if (!unit) return "";
    const status = unit.online ? unit.status : "offline";
    return h(
      "div",
      { class: "unit-popup" },
      h("strong", {}, unit.name),
      h("div", {}, `${jurisdictionName(unit.jurisdiction)} · ${t(`responder_status.${status}`)}`),
      h("div", {}, t("map.skills", { skills: (unit.skills || []).join("、") })),
      unit.position_at ? h("div", { class: "muted" }, t("map.last_seen", { time: timeOfDay(unit.position_at) })) : "",
      this.canAssign && unit.status === "available"
        ? h("button", { type: "button", class: "small", onclick: () => this.onAssign(unit.id) }, t("map.assign_here"))
        : "",
    );
  }
}
