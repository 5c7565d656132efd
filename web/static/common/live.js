// The live link to the server (/ws): authenticated by the session cookie, resumed after every
// reconnect from the last event it saw, so nothing that happened meanwhile is missed.

import { toLogin } from "./api.js";

const PING_EVERY_MS = 15000;
const DEAD_AFTER_MS = 10000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const CLOSE_UNAUTHORIZED = 4401;

export class Live {
  /**
   * onEvent(event, {replayed}) for each stored event in order (never one twice);
   * onFrame(frame) for every other frame (positions, results, alarms, errors);
   * onStatus("connecting" | "online" | "offline"); onResumed() after each catch-up.
   * lastSeq: where to resume from (0: only what happens from now on).
   */
  constructor({ onEvent, onFrame, onStatus, onResumed, lastSeq = 0, saveSeq } = {}) {
    this.onEvent = onEvent || (() => {});
    this.onFrame = onFrame || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onResumed = onResumed || (() => {});
    this.saveSeq = saveSeq || (() => {});
    this.lastSeq = lastSeq;
    this.status = "connecting";
    this.socket = null;
    this.attempt = 0;
    this.waiting = new Map();
    this.replaying = false;
    this.lastHeard = 0;
    this.timer = null;
    this.stopped = false;
    window.addEventListener("offline", () => this.drop("browser offline"));
    window.addEventListener("online", () => this.reconnectSoon(0));
  }

  start() {
    this.connect();
    this.timer = setInterval(() => this.heartbeat(), PING_EVERY_MS / 3);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.socket) this.socket.close(1000, "bye");
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }

  connect() {
    if (this.stopped || this.socket) return;
    if (!navigator.onLine) {
      this.setStatus("offline");
      return;
    }
    this.setStatus(this.attempt === 0 && this.status === "connecting" ? "connecting" : "offline");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (closed) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failWaiting();
      if (closed.code === CLOSE_UNAUTHORIZED) {
        toLogin("expired");
        return;
      }
      this.setStatus("offline");
      this.reconnectSoon();
    };
    socket.onerror = () => {}; // onclose follows and reconnects
  }

  drop(reason) {
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(4000, reason);
    }
    this.failWaiting();
    this.setStatus("offline");
  }

  reconnectSoon(delay) {
    if (this.stopped) return;
    const wait = delay ?? BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] * (0.8 + Math.random() * 0.4);
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), wait);
  }

  heartbeat() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (this.pingSentAt && now - this.pingSentAt > DEAD_AFTER_MS && this.lastHeard < this.pingSentAt) {
      this.drop("no answer to ping"); // lost signal without a TCP close: treat it as gone
      this.reconnectSoon();
      return;
    }
    if (now - this.lastHeard > PING_EVERY_MS) {
      this.pingSentAt = now;
      this.send({ type: "ping" });
    }
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN || this.status !== "online") return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Send a message with an `id` and wait for its `result` (rejects when the socket drops first). */
  request(message) {
    return new Promise((resolve, reject) => {
      if (!this.send(message)) {
        reject(new Error("offline"));
        return;
      }
      this.waiting.set(message.id, { resolve, reject });
    });
  }

  failWaiting() {
    for (const { reject } of this.waiting.values()) reject(new Error("offline"));
    this.waiting.clear();
  }

  receive(data) {
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        this.attempt = 0;
        if (!this.lastSeq) this.lastSeq = frame.last_seq;
        this.replaying = true;
        this.socket.send(JSON.stringify({ type: "resume", after: this.lastSeq }));
        break;
      case "event":
        if (frame.seq <= this.lastSeq) return;
        this.lastSeq = frame.seq;
        this.saveSeq(frame.seq);
        this.onEvent(frame.event, { replayed: this.replaying });
        break;
      case "resumed":
        this.replaying = false;
        this.setStatus("online");
        this.onResumed();
        break;
      case "result": {
        const waiting = this.waiting.get(frame.id);
        if (waiting) {
          this.waiting.delete(frame.id);
          waiting.resolve(frame);
        }
        this.onFrame(frame);
        break;
      }
      case "pong":
        break;
      default:
        this.onFrame(frame);
    }
  }
}
