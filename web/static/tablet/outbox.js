// Every action a responder takes goes here first: stored on the device (IndexedDB) with its own
// request id, then sent in order over the socket whenever there is signal. The server remembers
// each request id's answer (web/ws.py Answers), so an action sent again after a lost answer
// lands once; a repeated trigger is harmless by the task machine anyway.

/** Errors worth trying again later; any other refusal will not change by sending it again. */
const TRANSIENT = new Set(["not_ready", "internal", "network", "error"]);
const RETRY_MS = 5000;

/** A random request id; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class Outbox {
  /**
   * store: the device's Store; send(action) → the server's `result` frame (rejects when offline
   * or unanswered in time); onAnswer(action, result) for an accepted one, onRefused(action, error)
   * for a refused one; onChange() whenever the queue changes.
   */
  constructor(store, { send, onAnswer, onRefused, onChange }) {
    this.store = store;
    this.send = send;
    this.onAnswer = onAnswer;
    this.onRefused = onRefused;
    this.onChange = onChange;
    /** @type {Array<{order:number,id:string,task_id:number,trigger:string,note:string|null,created_at:string}>} */
    this.items = [];
    this.flushing = null;
    this.again = false;
    this.retryTimer = null;
  }

  async load() {
    this.items = await this.store.queued();
  }

  get count() {
    return this.items.length;
  }

  forTask(taskId) {
    return this.items.filter((item) => item.task_id === taskId);
  }

  /** Queue an action (stored before anything else happens), then try to send it. */
  async add(taskId, trigger, note = null) {
    const action = {
      id: requestId(),
      task_id: taskId,
      trigger,
      note: note || null,
      created_at: new Date().toISOString(),
    };
    const stored = await this.store.enqueue(action);
    this.items.push(stored);
    this.onChange();
    this.flush();
    return stored;
  }

  /** Send what waits, oldest first, one at a time; stops at the first one that gets no answer. */
  flush() {
    if (this.flushing) {
      this.again = true; // an action added meanwhile: go round once more
      return this.flushing;
    }
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
      if (this.again) {
        this.again = false;
        this.flush();
      }
    });
    return this.flushing;
  }

  async drain() {
    while (this.items.length) {
      const action = this.items[0];
      let result;
      try {
        result = await this.send(action);
      } catch {
        this.retry(); // offline, or no answer in time: it stays, and goes again with the same id
        return;
      }
      if (!result.ok && TRANSIENT.has(result.error?.code)) {
        this.retry();
        return;
      }
      await this.store.dequeue(action.order);
      this.items.shift();
      if (result.ok) this.onAnswer(action, result);
      else this.onRefused(action, result.error || {});
      this.onChange();
    }
  }

  /** Try again a little later (a reconnect flushes at once as well). */
  retry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), RETRY_MS);
  }
}
