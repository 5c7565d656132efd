// The task's map: the unit's town (polygons only: works without tiles and without signal), the
// incident's place and the unit's own position, and picking "I am here" by a tap.

import { CityMap, incidentIcon, unitIcon } from "/static/common/map.js";
import { language, t } from "/static/common/i18n.js";

const L = window.L;

export class TaskMap {
  /** element: the map's box; settings: the session's settings.map; onPick({lat, lon}) for a tap while picking. */
  constructor(element, settings, { onPick }) {
    this.city = new CityMap(element, settings);
    this.map = this.city.map;
    this.onPick = onPick;
    this.picking = false;
    this.incident = null;
    this.unit = null;
    this.shown = null;
    this.highlighted = null;
    this.map.on("click", (clicked) => {
      if (this.picking) this.onPick(this.city.picked(clicked.latlng));
    });
  }

  /** Draw the town's polygons; false when they cannot be read (no signal and none kept). */
  async drawAreas() {
    try {
      await this.city.drawJurisdictions();
      return true;
    } catch {
      return false;
    } finally {
      this.shown = null; // drawing fitted the whole town: the next show() fits the task again
      this.highlighted = null; // and made the areas anew
    }
  }

  /** Outline the task's street (or village) in the alarm colour; the one before goes back. */
  highlight(id) {
    if (id === this.highlighted) return;
    const restyle = (each) => this.city.areas.eachLayer((group) => group.resetStyle?.(each));
    const before = this.highlighted ? this.city.features.get(this.highlighted) : null;
    if (before) restyle(before);
    this.highlighted = id;
    const area = id ? this.city.features.get(id) : null;
    if (area) {
      area.setStyle({ color: "#b3261e", weight: 3, opacity: 0.9, dashArray: null, fillColor: "#b3261e", fillOpacity: 0.06 });
      area.bringToFront();
    }
  }

  setPicking(on) {
    this.picking = on;
    this.map.getContainer().classList.toggle("picking", on);
  }

  /**
   * Show a task's place and the unit's own position; the view is fitted only when the task, its
   * place or whether the unit has a position changes, so a moving unit does not jerk the map
   * under a finger.
   */
  show(task, own) {
    const place = task?.place?.location || null;
    this.incident = this.marker(this.incident, place, `${language}:${task?.severity}`, () => ({
      icon: incidentIcon(task.severity, { selected: true }),
      title: t("tablet.incident_marker"),
    }));
    this.unit = this.marker(this.unit, own, `${language}:${own?.manual}`, () => ({
      icon: unitIcon(own.manual ? "busy" : "available"),
      title: t("tablet.unit_marker"),
      zIndexOffset: 500,
    }));
    this.highlight(task?.place?.jurisdiction || null);
    const key = JSON.stringify([task?.id, place, task?.place?.jurisdiction, Boolean(own)]);
    if (key === this.shown) return;
    this.shown = key;
    // The task's street (or village) around its points: the place is seen among its borders.
    const points = [place, own].filter(Boolean).map((each) => this.city.point(each.lat, each.lon));
    const bounds = L.latLngBounds(points);
    const area = task?.place?.jurisdiction ? this.city.features.get(task.place.jurisdiction) : null;
    if (area) bounds.extend(area.getBounds());
    // Not animated: Leaflet ignores a new view asked for while a zoom animation runs.
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [28, 28], maxZoom: 15, animate: false });
  }

  /**
   * Keep one marker per thing: moved, its icon replaced only when what it shows changed (markers
   * removed and re-added under a running zoom animation break Leaflet).
   */
  marker(marker, where, look, options) {
    if (!where) {
      if (marker) marker.remove();
      return null;
    }
    const at = this.city.point(where.lat, where.lon);
    if (!marker) {
      const made = L.marker(at, { keyboard: false, ...options() }).addTo(this.map);
      made.look = look;
      return made;
    }
    marker.setLatLng(at);
    if (marker.look !== look) {
      const { icon, ...rest } = options();
      Object.assign(marker.options, rest); // the title, in the language now chosen
      marker.setIcon(icon);
      marker.look = look;
    }
    return marker;
  }
}
