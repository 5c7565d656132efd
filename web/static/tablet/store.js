// What the tablet keeps on the device (IndexedDB), so a lost signal or a reload loses nothing:
// the actions not yet sent (the outbox), the last known tasks with the event seq they reflect,
// the session's names and settings (for a start without signal), and which tasks were seen.

const DATABASE = "dispatch-tablet";
const VERSION = 1;
const KEPT = "kept"; // small records by name: session, snapshot, seen, owner
const OUTBOX = "outbox"; // queued actions, in the order they were taken

/** Resolve an IDBRequest (or a transaction's completion) as a promise. */
function done(request) {
  return new Promise((resolve, reject) => {
    if (request instanceof IDBTransaction) {
      request.oncomplete = () => resolve();
      request.onabort = request.onerror = () => reject(request.error);
    } else {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    }
  });
}

export class Store {
  /** Open (and on first use create) the tablet's database. */
  static async open() {
    const opening = indexedDB.open(DATABASE, VERSION);
    opening.onupgradeneeded = () => {
      const db = opening.result;
      if (!db.objectStoreNames.contains(KEPT)) db.createObjectStore(KEPT);
      if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "order", autoIncrement: true });
    };
    return new Store(await done(opening));
  }

  constructor(db) {
    this.db = db;
  }

  async get(name) {
    return done(this.db.transaction(KEPT).objectStore(KEPT).get(name));
  }

  async put(name, value) {
    const tx = this.db.transaction(KEPT, "readwrite");
    tx.objectStore(KEPT).put(value, name);
    return done(tx);
  }

  /** Every queued action, oldest first. */
  async queued() {
    return done(this.db.transaction(OUTBOX).objectStore(OUTBOX).getAll());
  }

  /** Queue an action; resolves to the stored record (with its `order`). */
  async enqueue(action) {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    const order = await done(tx.objectStore(OUTBOX).add(action));
    await done(tx);
    return { ...action, order };
  }

  async dequeue(order) {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    tx.objectStore(OUTBOX).delete(order);
    return done(tx);
  }

  /** Forget everything (logout, or another person on this device). */
  async clear() {
    const tx = this.db.transaction([KEPT, OUTBOX], "readwrite");
    tx.objectStore(KEPT).clear();
    tx.objectStore(OUTBOX).clear();
    return done(tx);
  }
}
