"""One trigger in flight: what it acts on, what its planning found, and what must follow it.

A lifecycle machine records the change and returns its follow-ups; it never calls upward.
The escalation orchestrator (core/escalation.py) acts on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from dispatch.config.model import Jurisdiction, Tier
from dispatch.storage.repository import Row
from dispatch.storage.writer import Tx
from state_machines import IncidentTrigger, Lifecycle


@dataclass(frozen=True, slots=True)
class OpenStepForTier:
    """The owner changed by hand: the new owner's step of the policy starts now."""

    incident: Row
    tier: Tier


@dataclass(frozen=True, slots=True)
class AssignResponder:
    """A dispatcher named a responder: open a task for it on the incident."""

    incident: Row
    responder: Row


@dataclass(frozen=True, slots=True)
class ReplaceDeclined:
    """A responder declined: ask the next nearest at the same step, or climb."""

    task: Row


@dataclass(frozen=True, slots=True)
class IncidentShould:
    """A task's progress moves its incident (respond, arrive) when the incident may still."""

    incident_id: int
    trigger: IncidentTrigger


FollowUp = OpenStepForTier | AssignResponder | ReplaceDeclined | IncidentShould


@dataclass(frozen=True, slots=True)
class Fired:
    """The result of a trigger: whether it changed anything, and what the orchestrator must do."""

    changed: bool
    follow_ups: list[FollowUp] = field(default_factory=list)


@dataclass
class Change:
    """One trigger in flight: the row it acts on, who asked, why, and what it will do."""

    tx: Tx
    row: Row
    trigger: str
    actor: str
    causation_id: str | None
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    target: Jurisdiction | None = None
    responder: Row | None = None
    merge_target: Row | None = None
    forward: bool = False
    task: Row | None = None
    departments: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields the trigger's event carries besides the common ones (planned before it runs)."""
    columns: dict[str, Any] = field(default_factory=dict)
    """Columns written with the state change besides state, milestones and updated_at."""
    follow_ups: list[FollowUp] = field(default_factory=list)
    repeat: bool = False
    """Nothing to do (a department already there, or already gone): no event, no change."""


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


def change_of(event: EventData) -> Change:
    change: Change = event.kwargs["change"]
    return change
