// The link to the prefecture above (and the other servers this one sends to) in the header:
// up, down (red) or idle, how many messages wait, the last error on hover. Polled from
// GET /api/v1/link; hidden when no destination is configured.

import { api } from "/static/common/api.js";
import { t } from "/static/common/i18n.js";
import { h, icon, timeOfDay } from "/static/common/format.js";

export const POLL_LINK_MS = 4000;
const WORST = ["down", "up", "idle"];

export class UpLink {
  constructor(element) {
    this.element = element;
    this.destinations = [];
    this.timer = null;
    this.soonTimer = null;
  }

  start() {
    this.load();
    this.timer = setInterval(() => this.load(), POLL_LINK_MS);
  }

  /** After an outbound_* event: ask again soon rather than at the next poll. */
  soon() {
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      this.load();
    }, 500);
  }

  async load() {
    try {
      const answer = await api("GET", "/api/v1/link");
      this.destinations = answer.destinations || [];
    } catch (err) {
      // A server without the link (or a role that may not read it) shows nothing.
      if ([403, 404].includes(err.status)) this.destinations = [];
      else if (err.status !== 401) console.warn("link state failed", err.message);
    }
    this.render();
  }

  render() {
    const shown = grouped(this.destinations);
    this.element.hidden = shown.length === 0;
    this.element.replaceChildren(...shown.map((each) => chip(each)));
  }
}

/** Upstream and each county on their own; departments' webhooks summed into one chip. */
function grouped(destinations) {
  const own = destinations.filter((each) => !String(each.destination).startsWith("department:"));
  const departments = destinations.filter((each) => String(each.destination).startsWith("department:"));
  if (!departments.length) return own;
  const state = WORST.find((worst) => departments.some((each) => each.state === worst)) || "idle";
  const failing = departments.find((each) => each.state === "down" && each.last_error);
  return [
    ...own,
    {
      destination: "departments",
      name: t("uplink.departments"),
      state,
      queued: departments.reduce((sum, each) => sum + (each.queued || 0), 0),
      last_error: failing ? `${failing.name || failing.destination}: ${failing.last_error}` : null,
      attempts: Math.max(0, ...departments.map((each) => each.attempts || 0)),
      parts: departments,
    },
  ];
}

/** 链路正常 / 发送中 2 条 / 链路中断，3 条待发 / 链路空闲: the state and what waits, in one phrase. */
function words(state, queued) {
  if (state === "down") return t("uplink.words.down", { n: queued });
  if (queued > 0) return t("uplink.words.sending", { n: queued });
  return t(`uplink.words.${state}`);
}

function chip(each) {
  const state = ["up", "down", "idle"].includes(each.state) ? each.state : "idle";
  const name = each.destination === "upstream" ? each.name || t("outbound.destination.upstream") : each.name || each.destination;
  const hover = [
    `${name}：${t(`uplink.state.${state}`)}`,
    each.url || null,
    each.last_error ? t("uplink.last_error", { error: each.last_error }) : null,
    each.attempts ? t("uplink.attempts", { n: each.attempts }) : null,
    each.oldest_queued_at ? t("uplink.oldest_queued", { time: timeOfDay(each.oldest_queued_at, true) }) : null,
    each.last_delivered_at ? t("uplink.last_delivered", { time: timeOfDay(each.last_delivered_at, true) }) : null,
    ...(each.parts || []).map((part) => `${part.name || part.destination}：${t(`uplink.state.${part.state}`, { fallback: part.state })}`),
  ];
  return h(
    "span",
    {
      class: `uplink-chip uplink-${state}`,
      title: hover.filter(Boolean).join("\n"),
      dataset: { destination: each.destination, state },
    },
    icon(state === "down" ? "wifi-off" : "wifi"),
    h("span", { class: "uplink-name" }, `${name}：`),
    h("strong", { class: "uplink-state" }, words(state, each.queued || 0)),
  );
}
