// The unit's tasks as the tablet knows them: the server's list (GET /api/v1/tasks), kept up to
// date by the socket's events and the answers to our own actions, and the state each task will
// be in once the queued actions land (what the card shows while they wait).

/**
 * The task machine's moves a tablet makes, as state_machines/task.py defines them:
 * trigger → [states it may leave, state it reaches]. tests/web/test_tablet.py checks that this
 * copy matches the server's table.
 */
export const TRANSITIONS = {
  accept: [["pending", "sent", "delivered"], "accepted"],
  decline: [["pending", "sent", "delivered"], "declined"],
  depart: [["accepted"], "en_route"],
  arrive: [["accepted", "en_route"], "on_scene"],
  complete: [["accepted", "en_route", "on_scene"], "done"],
};
export const TABLET_TRIGGERS = Object.keys(TRANSITIONS);
export const UNANSWERED = ["pending", "sent", "delivered"];
export const WORKING = ["accepted", "en_route", "on_scene"];
export const ENDED = ["done", "declined", "expired", "cancelled"];

/** The tablet's triggers allowed from `state`, in the order of the work. */
export function allowedTriggers(state) {
  return TABLET_TRIGGERS.filter((trigger) => TRANSITIONS[trigger][0].includes(state));
}

/** The state `trigger` leads to from `state`, or null when the machine refuses it. */
export function nextState(state, trigger) {
  const move = TRANSITIONS[trigger];
  return move && move[0].includes(state) ? move[1] : null;
}

export function isOpen(task) {
  return !ENDED.includes(task.state);
}

/** An RFC 3339 string or epoch seconds (event payloads) as RFC 3339. */
function isoTime(value) {
  if (value === null || value === undefined) return null;
  return typeof value === "number" ? new Date(value * 1000).toISOString() : value;
}

export class TaskBook {
  constructor() {
    /** @type {Map<number, object>} task id → task (the server's fields, plus `seq`: its last event). */
    this.tasks = new Map();
    /** The last event seq these tasks reflect: the socket resumes after it. */
    this.seq = 0;
  }

  get(id) {
    return this.tasks.get(id);
  }

  /** Take a list the server sent at `seq` (or a stored snapshot); newer local news is kept. */
  merge(list, seq) {
    const fresh = new Map();
    for (const task of list) {
      const known = this.tasks.get(task.id);
      if (known && (known.seq || 0) > seq) {
        fresh.set(task.id, { ...task, state: known.state, milestones: known.milestones, seq: known.seq });
      } else {
        fresh.set(task.id, { ...task, seq: task.seq || seq });
      }
    }
    // Tasks the list does not hold: kept while open and newer than the list (assigned after it).
    for (const [id, known] of this.tasks) {
      if (!fresh.has(id) && (known.seq || 0) > seq) fresh.set(id, known);
    }
    this.tasks = fresh;
    this.seq = Math.max(this.seq, seq);
  }

  /**
   * Apply one event of the socket. Returns {task, assigned} when it touched one of our tasks
   * (assigned: it is new to this tablet), else null.
   */
  applyEvent(event, seq) {
    this.seq = Math.max(this.seq, seq);
    if (!event.task_id) return null;
    const payload = event.payload || {};
    let task = this.tasks.get(event.task_id);
    if (event.type === "task_assigned") {
      const assigned = !task;
      if (!task) {
        task = {
          id: event.task_id,
          incident_id: event.incident_id,
          state: "pending",
          tier: payload.tier,
          category: payload.category,
          severity: payload.severity,
          title: payload.title,
          description: null,
          note: null,
          place: {
            location: payload.lat !== null && payload.lat !== undefined ? { lat: payload.lat, lon: payload.lon } : null,
            jurisdiction: null,
            street: null,
            town: null,
          },
          distance_m: payload.distance_m,
          accept_deadline_at: isoTime(payload.accept_deadline_at),
          milestones: { pending: event.occurred_at },
          created_at: event.occurred_at,
          updated_at: event.occurred_at,
          provisional: true, // the rest of the card comes with the next GET /api/v1/tasks
        };
        this.tasks.set(task.id, task);
      }
      task.seq = seq;
      return { task, assigned };
    }
    // A list read after this event already holds its effect: applying it again would step back.
    if (!task || !payload.to_state || seq <= (task.seq || 0)) return null;
    task.state = payload.to_state;
    task.milestones = { ...task.milestones, [payload.to_state]: event.occurred_at };
    task.updated_at = event.occurred_at;
    task.seq = seq;
    return { task, assigned: false };
  }

  /** The task of a `result` frame (task_json): its state as the server now has it. */
  applyAnswer(answer) {
    const task = this.tasks.get(answer.id);
    if (!task) return null;
    Object.assign(task, {
      state: answer.state,
      milestones: answer.milestones,
      updated_at: answer.updated_at,
      accept_deadline_at: answer.accept_deadline_at,
    });
    return task;
  }

  /** Open tasks first (unanswered before working), newest first within each; then the ended ones. */
  list() {
    const rank = (task) => (UNANSWERED.includes(task.state) ? 0 : WORKING.includes(task.state) ? 1 : 2);
    return [...this.tasks.values()].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
  }

  snapshot() {
    return { tasks: [...this.tasks.values()], seq: this.seq };
  }
}

/**
 * The state a task shows while actions wait in the outbox: the server's state with each queued
 * action applied in order (one the machine would refuse is skipped; the server will refuse it).
 */
export function expectedState(task, queued) {
  let state = task.state;
  for (const action of queued) {
    if (action.task_id === task.id) state = nextState(state, action.trigger) || state;
  }
  return state;
}
