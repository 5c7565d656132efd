"""One trigger in flight: what it acts on, what its planning found, and what must follow it.

A lifecycle machine records the change and returns its follow-ups; it never calls upward.
The escalation orchestrator (core/escalation.py) acts on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from transitions import EventData, Machine

from dispatch.config.model import Jurisdiction, Tier
from dispatch.events.catalog import IncidentChanged
from dispatch.storage.records import Incident, Responder, Task
from dispatch.storage.writer import Tx
from state_machines import IncidentTrigger, Lifecycle


@dataclass(frozen=True, slots=True)
class OpenStepForTier:
    """The owner changed by hand: the new owner's step of the policy starts now."""

    incident: Incident
    tier: Tier


@dataclass(frozen=True, slots=True)
class AssignResponder:
    """A dispatcher named a responder: open a task for it on the incident."""

    incident: Incident
    responder: Responder


@dataclass(frozen=True, slots=True)
class ReplaceDeclined:
    """A responder declined: ask the next nearest at the same step, or climb."""

    task: Task


@dataclass(frozen=True, slots=True)
class IncidentShould:
    """A task's progress moves its incident (respond, arrive) when the incident may still."""

    incident_id: int
    trigger: IncidentTrigger


class Moved(TypedDict):
    """What every incident transition's event carries; a trigger's planning may add its own."""

    occurred_at: float
    actor: str
    causation_id: str | None
    incident_id: int
    trigger: str
    from_state: str
    to_state: str
    reason: str | None


EventOf = Callable[[Moved], IncidentChanged]
"""Builds a trigger's own event (its class and fields, found by planning) from what all share."""

FollowUp = OpenStepForTier | AssignResponder | ReplaceDeclined | IncidentShould


@dataclass(frozen=True, slots=True)
class Fired:
    """The result of a trigger: whether it changed anything, and what the orchestrator must do."""

    changed: bool
    follow_ups: list[FollowUp] = field(default_factory=list)


@dataclass
class IncidentChange:
    """One incident trigger in flight: the incident, who asked, why, and what planning found."""

    tx: Tx
    row: Incident
    trigger: str
    actor: str
    causation_id: str | None
    reason: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    """What the caller sent with the trigger (a request body): checked by planning."""
    target: Jurisdiction | None = None
    responder: Responder | None = None
    merge_target: Incident | None = None
    forward: bool = False
    task: Task | None = None
    departments: list[str] | None = None
    refusal: str | None = None
    """Why the table's condition would refuse it (planning knows best what to say)."""
    event_of: EventOf | None = None
    """Its event, when the trigger's event class carries more than `Moved` (planning sets it)."""
    summary: str | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)
    repeat: bool = False
    """Nothing to do (a department already there, or already gone): no event, no change."""


@dataclass
class TaskChange:
    """One task trigger in flight: the task, who asked, and the note or channel that came with it."""

    tx: Tx
    row: Task
    trigger: str
    actor: str
    causation_id: str | None
    note: str | None = None
    channel: str | None = None
    delivered_via: str | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)


def build_machine(lifecycle: Lifecycle, model: object) -> Machine:
    """The one machine of a lifecycle; every transition is recorded before the state moves."""
    return Machine(
        model=model,
        states=[str(state) for state in lifecycle.states],
        transitions=lifecycle.table(),
        initial=str(lifecycle.initial),
        auto_transitions=False,
        send_event=True,
        before_state_change="record_transition",
    )


def incident_change(event: EventData) -> IncidentChange:
    change: IncidentChange = event.kwargs["change"]
    return change


def task_change(event: EventData) -> TaskChange:
    change: TaskChange = event.kwargs["change"]
    return change
