// What the responder sees: the task list, the current task's card, the new-task overlay and the
// two questions (why decline, what was done). Pure rendering: the app passes what to show and
// what to call; every word comes from the word tables, every state has an icon and its name.

import { language, t } from "/static/common/i18n.js";
import {
  categoryName,
  countdown,
  distance,
  h,
  icon,
  metersBetween,
  placeWords,
  severityBadge,
  taskStateName,
  timeOfDay,
} from "/static/common/format.js";
import { ENDED, UNANSWERED, allowedTriggers } from "./tasks.js";

/** Replace an element's children; arrays are flattened, null/undefined/false left out. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

/**
 * Whether `el` already shows what `what` describes (else remember it). Rebuilding a button
 * between a finger's pointerdown and its click loses the click, so nothing is rebuilt for nothing.
 */
export function unchanged(el, ...what) {
  const key = JSON.stringify([language, ...what]);
  if (el.shownKey === key) return true;
  el.shownKey = key;
  return false;
}

const STATE_ICONS = {
  pending: "alarm",
  sent: "alarm",
  delivered: "alarm",
  accepted: "check",
  en_route: "up",
  on_scene: "pin",
  done: "check",
  declined: "cross",
  expired: "clock",
  cancelled: "cross",
};
const TRIGGER_ICONS = { accept: "check", decline: "cross", depart: "up", arrive: "pin", complete: "check" };
const PROGRESS = ["accepted", "en_route", "on_scene", "done"];
export const DECLINE_REASONS = ["busy", "far", "equipment", "unwell"];

/**
 * @typedef {object} ViewContext
 * @property {(taskId:number) => object[]} queued   the task's actions waiting in the outbox
 * @property {(task:object) => string} expected      the state the task shows (queued actions applied)
 * @property {(taskId:number) => string|null} refusal the last refused action of the task, in words
 * @property {{lat:number, lon:number}|null} own       the unit's own position
 * @property {number|null} selectedId
 * @property {(taskId:number) => void} select
 * @property {(task:object, trigger:string) => void} act
 */

/** A task state as words and an icon (colour is never the only sign). */
export function stateChip(state) {
  return h("span", { class: `state state-${state}` }, icon(STATE_ICONS[state] || "clock"), taskStateName(state));
}

export function pendingChip(count) {
  return h(
    "span",
    { class: "pending-chip" },
    icon("wifi-off"),
    count > 1 ? t("tablet.pending_n", { n: count }) : t("tablet.pending"),
  );
}

/** The place in words: town / street, else the jurisdiction's names. */
export function placeText(task) {
  const place = task.place || {};
  const named = [place.town, place.street].filter(Boolean);
  if (named.length) return named.join(" / ");
  if (place.jurisdiction) return placeWords(place.jurisdiction);
  return t("common.unknown");
}

/** Distance to the task: from where the unit is now when known, else as it was when assigned. */
export function distanceText(task, own) {
  const place = task.place?.location;
  if (own && place) return [distance(metersBetween(own, place)), t("tablet.distance_now")];
  if (task.distance_m !== null && task.distance_m !== undefined) return [distance(task.distance_m), t("tablet.distance_assigned")];
  return [t("common.unknown"), null];
}

/** A ticking countdown to the accept deadline (tick() refreshes every [data-deadline]). */
function deadline(task, state) {
  if (!task.accept_deadline_at || !UNANSWERED.includes(state)) return null;
  return h("span", { class: "countdown", dataset: { deadline: task.accept_deadline_at } }, icon("clock"), h("b"));
}

/** Refresh every countdown under root; overdue ones say so in words and change look. */
export function tick(root = document) {
  for (const el of root.querySelectorAll("[data-deadline]")) {
    const left = countdown(el.dataset.deadline);
    el.classList.toggle("overdue", left.overdue);
    el.querySelector("b").textContent = left.overdue ? left.text : t("common.in", { t: left.text });
  }
}

/** The list: open tasks first, then those ended in the last day. */
export function renderList(nav, tasks, ctx) {
  const shown = tasks.map((task) => [task, ctx.expected(task), ctx.queued(task.id).length]);
  if (unchanged(nav, shown, ctx.selectedId)) return;
  const open = tasks.filter((task) => !ENDED.includes(ctx.expected(task)));
  const ended = tasks.filter((task) => ENDED.includes(ctx.expected(task)));
  const item = (task) => {
    const state = ctx.expected(task);
    const waiting = ctx.queued(task.id).length;
    return h(
      "button",
      {
        type: "button",
        class: `task-item${task.id === ctx.selectedId ? " selected" : ""}${UNANSWERED.includes(state) ? " unanswered" : ""}`,
        "aria-current": task.id === ctx.selectedId ? "true" : null,
        dataset: { task: task.id },
        onclick: () => ctx.select(task.id),
      },
      h("span", { class: "task-item-head" }, severityBadge(task.severity), h("b", {}, categoryName(task.category))),
      h("span", { class: "task-item-title" }, task.title || t("tablet.task_n", { id: task.id })),
      h("span", { class: "task-item-foot" }, stateChip(state), waiting ? pendingChip(waiting) : null, deadline(task, state)),
    );
  };
  fill(nav,
    h("h2", { class: "list-head" }, t("tablet.open_tasks"), h("span", { class: "count" }, String(open.length))),
    open.length ? open.map(item) : h("p", { class: "empty" }, t("tablet.no_tasks")),
    ended.length ? h("h2", { class: "list-head ended" }, t("tablet.ended_tasks")) : null,
    ended.map(item),
  );
  tick(nav);
}

function milestoneSteps(task, state) {
  if (!PROGRESS.includes(state) && !task.milestones?.accepted) return null;
  return h(
    "ol",
    { class: "progress" },
    PROGRESS.map((step) => {
      const at = task.milestones?.[step];
      const reached = PROGRESS.indexOf(step) <= PROGRESS.indexOf(state);
      return h(
        "li",
        { class: reached ? "reached" : "" },
        icon(reached ? "check" : "clock"),
        h("span", {}, taskStateName(step)),
        h("small", {}, at ? timeOfDay(at) : reached ? t("tablet.pending") : "—"),
      );
    }),
  );
}

/** The current task: what, how bad, where, how far, how long left, notes, state and actions. */
export function renderCard(section, task, ctx) {
  if (unchanged(section, task, task && [ctx.expected(task), ctx.queued(task.id), ctx.refusal(task.id), distanceText(task, ctx.own)])) return;
  if (!task) {
    fill(section, h("p", { class: "empty big" }, icon("check"), t("tablet.no_task_selected")));
    return;
  }
  const state = ctx.expected(task);
  const waiting = ctx.queued(task.id);
  const refusal = ctx.refusal(task.id);
  const [far, farHow] = distanceText(task, ctx.own);
  const fact = (label, ...value) => h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, ...value));
  fill(
    section,
    h(
      "header",
      { class: "card-head" },
      severityBadge(task.severity, false),
      h("h1", { class: "category" }, categoryName(task.category)),
      h("span", { class: "card-state", dataset: { state } }, stateChip(state), waiting.length ? pendingChip(waiting.length) : null),
    ),
    h("p", { class: "card-title" }, task.title || t("tablet.task_n", { id: task.id })),
    h(
      "dl",
      { class: "facts" },
      fact(t("tablet.place"), icon("pin"), h("span", { class: "place" }, placeText(task))),
      fact(t("tablet.distance"), h("span", { class: "distance" }, far), farHow ? h("small", {}, ` ${farHow}`) : null),
      deadline(task, state) ? fact(t("tablet.deadline"), deadline(task, state)) : null,
      fact(t("tablet.assigned_at"), timeOfDay(task.created_at), h("small", {}, ` ${t("tablet.incident_n", { id: task.incident_id })}`)),
    ),
    milestoneSteps(task, state),
    h(
      "section",
      { class: "notes" },
      h("h2", {}, t("tablet.note")),
      h("p", { class: task.note ? "note" : "none" }, task.note || t("common.none")),
      h("h2", {}, t("tablet.description")),
      h("p", { class: task.description ? "description" : "none" }, task.description || (task.provisional ? t("common.loading") : t("common.none"))),
    ),
    waiting.length
      ? h(
          "ul",
          { class: "queued", "aria-label": t("tablet.pending") },
          waiting.map((action) =>
            h(
              "li",
              {},
              icon("wifi-off"),
              t("tablet.queued_action", { action: t(`task_trigger.${action.trigger}`), time: timeOfDay(action.created_at) }),
            ),
          ),
        )
      : null,
    refusal ? h("p", { class: "refusal", role: "alert" }, icon("alarm"), refusal) : null,
    h(
      "div",
      { class: "actions" },
      allowedTriggers(state).map((trigger) =>
        h(
          "button",
          { type: "button", class: `act act-${trigger}`, dataset: { trigger }, onclick: () => ctx.act(task, trigger) },
          icon(TRIGGER_ICONS[trigger]),
          t(`task_trigger.${trigger}`),
        ),
      ),
      ENDED.includes(state) ? h("p", { class: "ended-note" }, stateChip(state)) : null,
    ),
  );
  tick(section);
}

/**
 * The overlay over everything: a new task (ringing until accepted or viewed), or a task that
 * was taken back while it rang. entry: {task, kind: "new" | "cancelled" | "expired", more}.
 */
export function renderOverlay(box, entry, ctx, { onAccept, onView, onDismiss, soundLocked }) {
  if (unchanged(box, entry, entry && distanceText(entry.task, ctx.own), soundLocked)) return;
  if (!entry) {
    if (box.open) box.close();
    box.replaceChildren();
    document.body.classList.remove("overlaid");
    return;
  }
  const { task, kind, more } = entry;
  const [far, farHow] = distanceText(task, ctx.own);
  const fresh = kind === "new";
  box.className = `overlay overlay-${kind} sev-edge-${task.severity}`;
  box.dataset.task = task.id;
  fill(
    box,
    h(
      "div",
      { class: "overlay-box" },
      h(
        "p",
        { class: "overlay-kicker" },
        icon(fresh ? "alarm" : "cross"),
        h("span", { id: "overlay-title" }, t(fresh ? "tablet.new_task" : `tablet.${kind}_title`)),
        more ? h("span", { class: "more" }, t("tablet.more_new", { n: more })) : null,
      ),
      h("div", { class: "overlay-head" }, severityBadge(task.severity, false), h("h2", {}, categoryName(task.category))),
      h("p", { class: "overlay-title" }, task.title || t("tablet.task_n", { id: task.id })),
      h("p", { class: "overlay-place" }, icon("pin"), placeText(task), h("span", { class: "far" }, ` · ${far}`), farHow ? h("small", {}, ` ${farHow}`) : null),
      fresh && task.accept_deadline_at ? h("p", { class: "overlay-deadline" }, t("tablet.deadline"), " ", deadline(task, "pending")) : null,
      task.note ? h("p", { class: "overlay-note" }, h("b", {}, `${t("tablet.note")}：`), task.note) : null,
      fresh
        ? h(
            "div",
            { class: "overlay-actions" },
            h("button", { type: "button", class: "act act-accept", onclick: onAccept }, icon("check"), t("task_trigger.accept")),
            h("button", { type: "button", class: "act act-view", onclick: onView }, icon("search"), t("tablet.view")),
          )
        : h(
            "div",
            { class: "overlay-actions" },
            h("button", { type: "button", class: "act act-view", onclick: onDismiss }, icon("check"), t("tablet.understood")),
          ),
      fresh && soundLocked ? h("p", { class: "sound-hint" }, icon("sound-off"), t("tablet.tap_for_sound")) : null,
    ),
  );
  // A modal dialog: in the top layer, over any question being asked, everything behind it inert.
  if (!box.open) box.showModal();
  document.body.classList.add("overlaid");
  tick(box);
}

/** Ask why the task is declined: a reason from the list and/or words. Resolves to the note, or null. */
export function askDecline(dialog) {
  const other = h("textarea", { id: "reason-text", rows: 2, maxlength: 500, placeholder: t("tablet.reason_text_hint") });
  const choices = DECLINE_REASONS.map((reason) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: "reason", value: reason }),
      h("span", {}, t(`tablet.reason.${reason}`)),
    ),
  );
  const problem = h("p", { class: "problem", role: "alert", hidden: true }, t("tablet.reason_needed"));
  return ask(dialog, t("tablet.decline_title"), [
    h("fieldset", { class: "choices" }, h("legend", {}, t("tablet.decline_reason")), choices),
    h("label", { for: "reason-text", class: "field" }, t("tablet.reason_text")),
    other,
    problem,
  ], t("task_trigger.decline"), () => {
    const picked = dialog.querySelector("input[name=reason]:checked");
    const words = [picked ? t(`tablet.reason.${picked.value}`) : null, other.value.trim() || null].filter(Boolean);
    if (!words.length) {
      problem.hidden = false;
      return undefined; // stay open
    }
    return words.join("：");
  });
}

/** Ask what was done (optional). Resolves to the note ("" for none), or null when cancelled. */
export function askComplete(dialog) {
  const note = h("textarea", { id: "complete-note", rows: 4, maxlength: 2000, placeholder: t("tablet.complete_hint") });
  return ask(dialog, t("tablet.complete_title"), [h("label", { for: "complete-note", class: "field" }, t("tablet.complete_note")), note], t("task_trigger.complete"), () => note.value.trim());
}

function ask(dialog, title, body, confirmWords, answer) {
  return new Promise((resolve) => {
    const confirm = h("button", { type: "submit", class: "act act-confirm" }, icon("check"), confirmWords);
    const cancel = h("button", { type: "button", class: "act act-cancel" }, icon("cross"), t("common.cancel"));
    const form = h("form", { method: "dialog", class: "ask-form" }, h("h2", {}, title), body, h("div", { class: "ask-actions" }, cancel, confirm));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const value = answer();
      if (value === undefined) return;
      dialog.close();
      resolve(value);
    });
    cancel.addEventListener("click", () => {
      dialog.close();
      resolve(null);
    });
    dialog.onclose = () => resolve(null); // Escape: resolving twice is harmless
    fill(dialog, form);
    dialog.setAttribute("aria-label", title);
    dialog.showModal();
  });
}
