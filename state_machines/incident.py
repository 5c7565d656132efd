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

INCIDENT_TRANSITIONS: tuple[Transition, ...] = (
    Transition(T.VERIFY, (S.REPORTED,), S.VERIFYING),
    Transition(T.DISPATCH, NEW, S.DISPATCHED),
    Transition(T.ASSIGN, NEW, S.DISPATCHED, after="assign_responder"),
    Transition(T.ASSIGN, WORKING, None, after="assign_responder"),
    Transition(T.RESPOND, (S.DISPATCHED,), S.RESPONDING),
    Transition(T.ARRIVE, (S.DISPATCHED, S.RESPONDING), S.ON_SCENE),
    Transition(T.RESOLVE, OPEN, S.RESOLVED, after="end_open_work"),
    Transition(T.CLOSE, (S.RESOLVED,), S.CLOSED),
    Transition(T.REOPEN, (S.RESOLVED,), S.VERIFYING),
    Transition(T.CANCEL, OPEN, S.CANCELLED, after="end_open_work"),
    Transition(T.MERGE, OPEN, S.MERGED, after="merge_into"),
    Transition(T.ESCALATE, OPEN, None, after="move_owner_up", conditions=("has_tier_above",)),
    Transition(T.DELEGATE, OPEN, None, after="move_owner_down", conditions=("has_tier_below",)),
    Transition(T.REASSIGN, WORKING, None, after="hand_over_task"),
    Transition(T.ADD_DEPARTMENT, OPEN, None, after="update_departments"),
    Transition(T.REMOVE_DEPARTMENT, OPEN, None, after="update_departments"),
)
"""Every row is one arrow of the README diagram; `dest` None keeps the state (owner changes)."""
