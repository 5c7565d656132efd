// The prefecture link in the console's header: up, or down with how many messages wait.
// Polls GET /api/v1/link (the outbox's status, the same from every front); hidden when this
// server sends nothing up (no `upstream` in its config).

import { api } from "/static/common/api.js";
import { icon } from "/static/common/format.js";
import { t } from "/static/common/i18n.js";

const EVERY_MS = 5000;

export class Uplink {
  constructor(element) {
    this.element = element;
    this.link = null;
  }

  start() {
    this.poll();
    setInterval(() => this.poll(), EVERY_MS);
  }

  async poll() {
    try {
      const body = await api("GET", "/api/v1/link");
      this.link = body.destinations.find((each) => each.destination === "upstream") || null;
    } catch {
      return; // the socket's own indicator says when the server is away
    }
    this.render();
  }

  render() {
    const link = this.link;
    this.element.hidden = link === null;
    if (link === null) return;
    const down = link.state === "down";
    this.element.className = `chip uplink ${link.state}${down ? " bad" : ""}`;
    const words = down
      ? t("console.uplink_down", { name: link.name, n: link.queued })
      : link.queued > 0
        ? t("console.uplink_sending", { name: link.name, n: link.queued })
        : t("console.uplink_up", { name: link.name });
    this.element.replaceChildren(icon(down ? "wifi-off" : "wifi"), " ", words);
    this.element.title = down && link.last_error ? link.last_error : "";
  }
}
