"""The task lifecycle: a `transitions` machine over the task table; the model owns its callbacks.

A task's progress that concerns its incident (accepted, arrived, declined) is returned as a
follow-up for the escalation orchestrator: this lifecycle never reaches up to the incident.
"""

from __future__ import annotations

from transitions import EventData

from dispatch.core import responder_status
from dispatch.core.change import (
    Fired,
    IncidentShould,
    ReplaceDeclined,
    TaskChange,
    build_machine,
    task_change,
)
from dispatch.events.catalog import TASK_EVENT_BY_TRIGGER
from dispatch.shared.errors import IllegalTransition
from dispatch.storage import repository
from dispatch.storage.records import Task
from dispatch.storage.tables import task_table
from dispatch.storage.writer import Tx
from state_machines import ENDED_TASK_STATES, TASK, IncidentTrigger, ResponderStatus, TaskState
from state_machines.task import HAPPY_PATH


class TaskLifecycle:
    """The model of the task machine; owns the callbacks the table names."""

    def __init__(self) -> None:
        self.state: str = TASK.initial
        self.machine = build_machine(TASK, self)

    def fire(
        self,
        tx: Tx,
        row: Task,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        note: str | None = None,
        channel: str | None = None,
    ) -> Fired:
        """Apply `trigger`; unchanged when it is a harmless repeat of a milestone already passed."""
        allowed = TASK.triggers_from(row.state)
        if trigger not in allowed:
            if self._already_past(row.state, trigger):
                return Fired(False)
            raise IllegalTransition(
                f"task {row.id} is {row.state}: {trigger!r} is not allowed",
                state=row.state,
                allowed=allowed,
            )
        change = TaskChange(tx, row, trigger, actor, causation_id, note, channel)
        self.state = row.state
        self.trigger(trigger, change=change)  # type: ignore[attr-defined]
        return Fired(True, change.follow_ups)

    @staticmethod
    def _already_past(state: str, trigger: str) -> bool:
        dests = {row.dest for row in TASK.transitions if row.trigger == trigger}
        if len(dests) != 1:
            return False
        dest = next(iter(dests))
        if dest not in HAPPY_PATH or state not in HAPPY_PATH:
            return state == dest
        return HAPPY_PATH.index(TaskState(state)) >= HAPPY_PATH.index(TaskState(dest))

    # Planning ---------------------------------------------------------------------------------

    def note_channel(self, event: EventData) -> None:
        """A delivery receipt names the channel it came over; the task keeps it."""
        change = task_change(event)
        change.delivered_via = change.channel or None

    # Callbacks --------------------------------------------------------------------------------

    def record_transition(self, event: EventData) -> None:
        change = task_change(event)
        row, tx = change.row, change.tx
        assert event.transition is not None and event.transition.dest is not None
        source, dest = row.state, event.transition.dest
        event_type = TASK_EVENT_BY_TRIGGER[change.trigger]
        tx.record(
            event_type(
                occurred_at=tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=row.incident_id,
                task_id=row.id,
                responder_id=row.responder_id,
                trigger=change.trigger,
                from_state=source,
                to_state=dest,
                note=change.note,
                channel=change.channel,
            )
        )
        moved: dict[str, object] = {"state": dest, "updated_at": tx.now}
        moved["milestones"] = {**row.milestones, dest: tx.now}
        if change.delivered_via is not None:
            moved["delivered_via"] = change.delivered_via
        repository.update(tx.connection, task_table, row, **moved)
        if dest in ENDED_TASK_STATES:
            responder_status.change(
                tx,
                row.responder_id,
                ResponderStatus.AVAILABLE,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=row.incident_id,
                task_id=row.id,
            )

    def task_accepted(self, event: EventData) -> None:
        change = task_change(event)
        change.follow_ups.append(IncidentShould(change.row.incident_id, IncidentTrigger.RESPOND))

    def task_arrived(self, event: EventData) -> None:
        change = task_change(event)
        change.follow_ups.append(IncidentShould(change.row.incident_id, IncidentTrigger.ARRIVE))

    def task_declined(self, event: EventData) -> None:
        change = task_change(event)
        change.follow_ups.append(ReplaceDeclined(change.row))

    def task_completed(self, event: EventData) -> None:
        """Nothing more: the dispatcher resolves the incident once the work is judged done."""
