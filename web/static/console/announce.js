// Announcements: new, escalated, unanswered and overdue incidents as a visible banner (icon and
// words, never colour alone) and, where the browser allows, a sound.

import { t } from "/static/common/i18n.js";
import { categoryName, h, icon, placeWords, severityBadge } from "/static/common/format.js";

const SHOWN = 4;
const FADE_MS = 20000;
const STICKY = new Set(["escalated", "notified", "unanswered", "overdue", "department_task", "department_escalated"]);
// Tones: a new incident chimes once; what needs a decision from this center rings twice, higher.
const TONES = { new: [[660, 0.18]], escalated: [[880, 0.16], [0, 0.08], [880, 0.16]], overdue: [[520, 0.25], [0, 0.1], [520, 0.25]] };

export class Announcer {
  constructor(region, { onOpen }) {
    this.region = region;
    this.onOpen = onOpen;
    this.items = [];
    this.soundOn = localStorage.getItem("dispatch.console.sound") !== "off";
    this.audio = null;
    this.lastSound = 0;
    // Browsers start sound only after a gesture: the first key or click unlocks it.
    const unlock = () => this.context();
    window.addEventListener("keydown", unlock, { once: true });
    window.addEventListener("pointerdown", unlock, { once: true });
  }

  context() {
    if (!this.audio) {
      try {
        this.audio = new AudioContext();
      } catch {
        return null;
      }
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  setSound(on) {
    this.soundOn = on;
    localStorage.setItem("dispatch.console.sound", on ? "on" : "off");
    if (on) this.context();
  }

  /** kind: new | escalated | notified | unanswered | overdue | department_task | department_escalated. */
  announce(kind, incident) {
    if (!incident) return;
    this.items = this.items.filter((item) => !(item.kind === kind && item.incident.id === incident.id));
    const item = { kind, incident, at: Date.now(), key: `${kind}-${incident.id}-${Date.now()}` };
    this.items.unshift(item);
    if (!STICKY.has(kind)) setTimeout(() => this.dismiss(item.key), FADE_MS);
    this.render();
    this.beep(kind === "new" ? "new" : kind === "overdue" ? "overdue" : "escalated");
  }

  dismiss(key) {
    const before = this.items.length;
    this.items = this.items.filter((item) => item.key !== key);
    if (this.items.length !== before) this.render();
  }

  render() {
    const shown = this.items.slice(0, SHOWN);
    const rest = this.items.length - shown.length;
    this.region.hidden = shown.length === 0;
    this.region.replaceChildren(
      ...shown.map((item) =>
        h(
          "div",
          { class: `announcement announce-${item.kind}`, dataset: { incident: item.incident.id } },
          icon(item.kind === "new" ? "sound" : "alarm"),
          h("strong", {}, t(`announce.${item.kind}`)),
          severityBadge(item.incident.severity),
          h("span", { class: "announce-text" }, `#${item.incident.id} ${categoryName(item.incident.category)} · ${placeWords(item.incident.jurisdiction)}`),
          h("button", { type: "button", class: "small", onclick: () => this.onOpen(item.incident.id) }, t("announce.open")),
          h("button", { type: "button", class: "small ghost", "aria-label": t("announce.dismiss"), onclick: () => this.dismiss(item.key) }, icon("cross"), h("span", { class: "sr-only" }, t("announce.dismiss"))),
        ),
      ),
      rest > 0 ? h("div", { class: "announce-more" }, t("announce.more", { n: rest })) : "",
    );
  }

  beep(tone) {
    if (!this.soundOn) return;
    const now = Date.now();
    if (now - this.lastSound < 1500) return; // a burst of incidents makes one sound, not fifty
    this.lastSound = now;
    const audio = this.context();
    if (!audio || audio.state !== "running") return;
    let at = audio.currentTime;
    for (const [frequency, seconds] of TONES[tone]) {
      if (frequency) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.18, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + seconds);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(at);
        oscillator.stop(at + seconds);
      }
      at += seconds;
    }
  }
}
