"""The incident lifecycle: reported → … → closed, with owner and team changes that keep the state."""

from __future__ import annotations

from enum import StrEnum

from state_machines.lifecycle import Transition


class IncidentState(StrEnum):
    REPORTED = "reported"
    VERIFYING = "verifying"
    DISPATCHED = "dispatched"
    RESPONDING = "responding"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    MERGED = "merged"


class IncidentTrigger(StrEnum):
    VERIFY = "verify"
    DISPATCH = "dispatch"
    ASSIGN = "assign"
    RESPOND = "respond"
    ARRIVE = "arrive"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    CANCEL = "cancel"
    MERGE = "merge"
    ESCALATE = "escalate"
    DELEGATE = "delegate"
    REASSIGN = "reassign"
    ADD_DEPARTMENT = "add_department"
    REMOVE_DEPARTMENT = "remove_department"


S = IncidentState
T = IncidentTrigger
NEW = (S.REPORTED, S.VERIFYING)
WORKING = (S.DISPATCHED, S.RESPONDING, S.ON_SCENE)
OPEN = NEW + WORKING

OPEN_INCIDENT_STATES: frozenset[IncidentState] = frozenset(OPEN)
"""An incident still being handled: alerts correlate into it, deadlines run, units are sent."""
NEW_INCIDENT_STATES: frozenset[IncidentState] = frozenset(NEW)
"""Nobody sent yet: the first step that finds responders dispatches the incident."""

INCIDENT_TRANSITIONS: tuple[Transition, ...] = (
    Transition(T.VERIFY, (S.REPORTED,), S.VERIFYING),
    Transition(T.DISPATCH, NEW, S.DISPATCHED),
    Transition(T.ASSIGN, NEW, S.DISPATCHED, prepare="plan_assign", after="assign_responder"),
    Transition(T.ASSIGN, WORKING, None, prepare="plan_assign", after="assign_responder"),
    Transition(T.RESPOND, (S.DISPATCHED,), S.RESPONDING),
    Transition(T.ARRIVE, (S.DISPATCHED, S.RESPONDING), S.ON_SCENE),
    Transition(T.RESOLVE, OPEN, S.RESOLVED, prepare="plan_resolve", after="end_open_work"),
    Transition(T.CLOSE, (S.RESOLVED,), S.CLOSED, after="end_department_work"),
    Transition(T.REOPEN, (S.RESOLVED,), S.VERIFYING),
    Transition(T.CANCEL, OPEN, S.CANCELLED, after="end_open_work"),
    Transition(T.MERGE, OPEN, S.MERGED, prepare="plan_merge", after="merge_into"),
    Transition(
        T.ESCALATE,
        OPEN,
        None,
        prepare="plan_escalate",
        conditions=("has_tier_above",),
        after="move_owner_up",
    ),
    Transition(
        T.DELEGATE,
        OPEN,
        None,
        prepare="plan_delegate",
        conditions=("has_tier_below",),
        after="move_owner_down",
    ),
    Transition(T.REASSIGN, WORKING, None, prepare="plan_reassign", after="hand_over_task"),
    Transition(
        T.ADD_DEPARTMENT,
        OPEN,
        None,
        prepare="plan_add_department",
        conditions=("changes_departments",),
        after="update_departments",
    ),
    Transition(
        T.REMOVE_DEPARTMENT,
        OPEN,
        None,
        prepare="plan_remove_department",
        conditions=("changes_departments",),
        after="update_departments",
    ),
)
"""Every row is one arrow of the README diagram; `dest` None keeps the state (owner changes)."""
