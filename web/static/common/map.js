// The map of every screen: the jurisdiction polygons of config.yaml, drawn with no tiles at
// all by default (it works offline); map.tile_url adds an intranet tile layer. Positions are
// WGS-84; for tiles drawn in GCJ-02 (map.tile_coordinates: gcj02) everything we draw is
// shifted onto them and a point picked on the map is shifted back.

import { api } from "./api.js";
import { roman } from "./format.js";

const L = window.L;

// GCJ-02 (the datum of 高德/腾讯 maps): the published offset formula (Krasovsky 1940 ellipsoid).
const A = 6378245.0;
const EE = 0.00669342162296594323;

function outOfChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function offsetLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function offsetLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

/** WGS-84 → GCJ-02; outside China the datums agree. */
export function wgs84ToGcj02(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  let dLat = offsetLat(lon - 105, lat - 35);
  let dLon = offsetLon(lon - 105, lat - 35);
  const radLat = (lat / 180) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lat + dLat, lon + dLon];
}

/** GCJ-02 → WGS-84 by iteration (to well under a metre). */
export function gcj02ToWgs84(lat, lon) {
  let [wLat, wLon] = [lat, lon];
  for (let i = 0; i < 10; i += 1) {
    const [gLat, gLon] = wgs84ToGcj02(wLat, wLon);
    const [eLat, eLon] = [gLat - lat, gLon - lon];
    wLat -= eLat;
    wLon -= eLon;
    if (Math.abs(eLat) < 1e-9 && Math.abs(eLon) < 1e-9) break;
  }
  return [wLat, wLon];
}

/** Our WGS-84 point → where to draw it on this map, and back. */
function datum(settings) {
  if (settings.tile_url && settings.tile_coordinates === "gcj02") {
    return { toMap: (lat, lon) => wgs84ToGcj02(lat, lon), fromMap: (lat, lon) => gcj02ToWgs84(lat, lon) };
  }
  return { toMap: (lat, lon) => [lat, lon], fromMap: (lat, lon) => [lat, lon] };
}

const TIER_STYLE = {
  city: { color: "#7aa2d6", weight: 3, fill: false },
  town: { color: "#5f87b8", weight: 2, fillOpacity: 0.04 },
  street: { color: "#5f87b8", weight: 1, opacity: 0.45, dashArray: "3 4", fillOpacity: 0 },
};

export class CityMap {
  /** settings: the session's settings.map; options: {labels: "towns" | "all" | "none"}. */
  constructor(element, settings, options = {}) {
    this.settings = settings;
    this.datum = datum(settings);
    this.options = { labels: "towns", ...options };
    this.map = L.map(element, {
      preferCanvas: true,
      zoomSnap: 0.25,
      minZoom: settings.min_zoom,
      maxZoom: settings.max_zoom,
      attributionControl: Boolean(settings.tile_url),
      keyboard: options.keyboard ?? true,
    });
    if (settings.tile_url) {
      L.tileLayer(settings.tile_url, {
        attribution: settings.tile_attribution || "",
        minZoom: settings.min_zoom,
        maxZoom: settings.max_zoom,
      }).addTo(this.map);
    }
    this.areas = L.layerGroup().addTo(this.map);
    this.labels = L.layerGroup().addTo(this.map);
    this.features = new Map();
    this.map.on("zoomend", () => this.showLabels());
    // The container's size may settle after the map was made (grids, drawers, fonts).
    new ResizeObserver(() => this.map.invalidateSize()).observe(element);
  }

  point(lat, lon) {
    return this.datum.toMap(lat, lon);
  }

  /** A point picked on the map, in WGS-84. */
  picked(latlng) {
    const [lat, lon] = this.datum.fromMap(latlng.lat, latlng.lng);
    return { lat, lon };
  }

  /** Draw the caller's jurisdictions (GET /api/v1/jurisdictions) and fit the map to them. */
  async drawJurisdictions(style = TIER_STYLE) {
    const collection = await api("GET", "/api/v1/jurisdictions");
    this.areas.clearLayers();
    this.features.clear();
    const layer = L.geoJSON(collection, {
      coordsToLatLng: (coords) => L.latLng(...this.point(coords[1], coords[0])),
      style: (feature) => ({ ...style[feature.properties.tier] }),
      interactive: false,
    });
    layer.eachLayer((each) => this.features.set(each.feature.id, each));
    layer.addTo(this.areas);
    this.collection = collection;
    this.map.invalidateSize();
    this.bounds = layer.getBounds();
    this.fit();
    this.showLabels();
    return collection;
  }

  /** Show the whole area the map draws. */
  fit() {
    if (this.bounds?.isValid()) this.map.fitBounds(this.bounds, { padding: [12, 12] });
    else this.map.setView([0, 0], 2);
  }

  /** Town names always; street names once zoomed in (or never / always, by option). */
  showLabels() {
    if (!this.collection) return;
    this.labels.clearLayers();
    const zoom = this.map.getZoom();
    for (const feature of this.collection.features) {
      const { tier, name, center } = feature.properties;
      const show =
        this.options.labels === "all" ||
        (this.options.labels === "towns" && (tier === "town" || (tier === "street" && zoom >= 12.5)));
      if (!show) continue;
      L.marker(this.point(center.lat, center.lon), {
        icon: L.divIcon({ className: `area-label area-label-${tier}`, html: "", iconSize: null }),
        interactive: false,
        keyboard: false,
      })
        .bindTooltip(text(name), { permanent: true, direction: "center", className: `area-name area-name-${tier}` })
        .addTo(this.labels);
    }
  }

  /** Shade a jurisdiction (e.g. towns by open-incident load). */
  shade(id, style) {
    const layer = this.features.get(id);
    if (layer) layer.setStyle(style);
  }
}

/** A text node's holder: Leaflet parses a string tooltip as HTML, an element it does not. */
function text(words) {
  const span = document.createElement("span");
  span.textContent = words;
  return span;
}

/** An incident's marker: its grade's numeral on a shape of its grade's colour. */
export function incidentIcon(severity, { selected = false, flashing = false } = {}) {
  const classes = ["incident-marker", `sev-${severity}`];
  if (selected) classes.push("selected");
  if (flashing) classes.push("flashing");
  return L.divIcon({
    className: classes.join(" "),
    html: `<span>${roman(severity)}</span>`,
    iconSize: [28, 28],
    iconAnchor: [14, 14],
  });
}

/** A unit's marker: a person glyph, and a mark for its status (✓ available, ● busy, × offline). */
export function unitIcon(status, { selected = false } = {}) {
  const mark = { available: "✓", busy: "●", offline: "×", off_duty: "×" }[status] || "?";
  return L.divIcon({
    className: `unit-marker unit-${status}${selected ? " selected" : ""}`,
    html: `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><use href="/static/common/icons.svg#unit"/></svg><b>${mark}</b>`,
    iconSize: [26, 26],
    iconAnchor: [13, 13],
  });
}
