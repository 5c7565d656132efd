// The 24-hour trend, drawn here in SVG: incidents opened per local hour as bars, resolved as a
// line with dots (two shapes, not only two colours), hour labels below, counts on the left.

import { t } from "/static/common/i18n.js";
import { h } from "/static/common/format.js";

const SVG = "http://www.w3.org/2000/svg";
const MARGIN = { top: 18, right: 16, bottom: 40, left: 56 };

function node(tag, attributes = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

/** A round top for the axis: 1, 2, 5, 10, 20, 50 … at or above the largest count. */
function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function renderTrend(container, legend, trend) {
  const width = Math.max(320, container.clientWidth);
  const height = Math.max(160, container.clientHeight);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const top = niceMax(Math.max(0, ...trend.map((hour) => Math.max(hour.opened, hour.resolved))));
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const slot = plotWidth / trend.length;

  const svg = node("svg", {
    class: "trend-svg",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": t("screen.trend_label"),
  });
  for (const tick of [0, top / 2, top]) {
    svg.append(
      node("line", { class: "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: y(tick), y2: y(tick) }),
      node("text", { class: "axis y", x: MARGIN.left - 10, y: y(tick) + 7, "text-anchor": "end" }, Number.isInteger(tick) ? tick : tick.toFixed(1)),
    );
  }
  trend.forEach((hour, index) => {
    const x = MARGIN.left + index * slot;
    if (hour.opened > 0) {
      const barTop = y(hour.opened);
      svg.append(
        node("rect", {
          class: "opened-bar",
          x: x + slot * 0.18,
          y: barTop,
          width: slot * 0.64,
          height: MARGIN.top + plotHeight - barTop,
          rx: 3,
          "data-hour": hour.hour,
          "data-opened": hour.opened,
        }),
      );
    }
    if (index % 3 === (trend.length - 1) % 3) {
      svg.append(node("text", { class: "axis x", x: x + slot / 2, y: height - 12, "text-anchor": "middle" }, t("screen.trend_hour", { hour: String(hour.hour).padStart(2, "0") })));
    }
  });
  const points = trend.map((hour, index) => [MARGIN.left + index * slot + slot / 2, y(hour.resolved)]);
  svg.append(node("polyline", { class: "resolved-line", points: points.map((point) => point.join(",")).join(" ") }));
  trend.forEach((hour, index) => {
    if (hour.resolved > 0) {
      svg.append(node("circle", { class: "resolved-dot", cx: points[index][0], cy: points[index][1], r: 6, "data-hour": hour.hour, "data-resolved": hour.resolved }));
    }
  });
  svg.append(node("line", { class: "axis-line", x1: MARGIN.left, x2: width - MARGIN.right, y1: y(0), y2: y(0) }));
  container.replaceChildren(svg);

  const opened = trend.reduce((sum, hour) => sum + hour.opened, 0);
  const resolved = trend.reduce((sum, hour) => sum + hour.resolved, 0);
  legend.replaceChildren(
    h("span", { class: "legend-opened" }, h("i", { class: "swatch-bar", "aria-hidden": "true" }), t("screen.trend_opened", { n: opened })),
    h("span", { class: "legend-resolved" }, h("i", { class: "swatch-line", "aria-hidden": "true" }), t("screen.trend_resolved", { n: resolved })),
  );
}
