"""The task lifecycle: a `transitions` machine over the task table; the model owns its callbacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transitions import EventData

from dispatch.core import responder_status
from dispatch.core.incidents import OPEN_INCIDENT_STATES, Change, build_machine, change_of
from dispatch.events.catalog import TASK_EVENT_BY_TRIGGER
from dispatch.shared.errors import IllegalTransition
from dispatch.storage import repository
from dispatch.storage.repository import Row
from dispatch.storage.tables import task_table
from dispatch.storage.writer import Tx
from state_machines import TASK, IncidentState, TaskState
from state_machines.task import HAPPY_PATH

if TYPE_CHECKING:
    from dispatch.core.incidents import IncidentLifecycle


class TaskLifecycle:
    """The model of the task machine; owns the callbacks the table names."""

    def __init__(self, incidents: IncidentLifecycle) -> None:
        self.incidents = incidents
        self.state: str = TASK.initial
        self.machine = build_machine(TASK, self)

    def fire(
        self,
        tx: Tx,
        row: Row,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        note: str | None = None,
        channel: str | None = None,
    ) -> bool:
        """Apply `trigger`; False when it is a harmless repeat of a milestone already passed."""
        allowed = TASK.triggers_from(row["state"])
        if trigger not in allowed:
            if self._already_past(row["state"], trigger):
                return False
            raise IllegalTransition(
                f"task {row['id']} is {row['state']}: {trigger!r} is not allowed",
                state=row["state"],
                allowed=allowed,
            )
        change = Change(tx, row, trigger, actor, causation_id, note, {"channel": channel})
        self.state = row["state"]
        self.trigger(trigger, change=change)  # type: ignore[attr-defined]
        return True

    @staticmethod
    def _already_past(state: str, trigger: str) -> bool:
        dests = {row.dest for row in TASK.transitions if row.trigger == trigger}
        if len(dests) != 1:
            return False
        dest = next(iter(dests))
        if dest not in HAPPY_PATH or state not in HAPPY_PATH:
            return state == dest
        return HAPPY_PATH.index(TaskState(state)) >= HAPPY_PATH.index(TaskState(dest))

    def record_transition(self, event: EventData) -> None:
        change = change_of(event)
        row, tx = change.row, change.tx
        assert event.transition is not None and event.transition.dest is not None
        source, dest = row["state"], event.transition.dest
        event_type = TASK_EVENT_BY_TRIGGER[change.trigger]
        channel = change.params.get("channel")
        tx.record(
            event_type(
                occurred_at=tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=row["incident_id"],
                task_id=row["id"],
                responder_id=row["responder_id"],
                trigger=change.trigger,
                from_state=source,
                to_state=dest,
                note=change.reason,
                channel=channel,
            )
        )
        values: dict[str, Any] = {
            "state": dest,
            "updated_at": tx.now,
            "milestones": {**row["milestones"], dest: tx.now},
        }
        if change.trigger == "deliver" and channel:
            values["delivered_via"] = channel
        repository.update(tx.connection, task_table, row, **values)
        if dest in (TaskState.DECLINED, TaskState.EXPIRED, TaskState.CANCELLED, TaskState.DONE):
            responder_status.change(
                tx,
                row["responder_id"],
                "available",
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=row["incident_id"],
                task_id=row["id"],
            )

    def _incident_of(self, change: Change) -> Row:
        return repository.incident(change.tx.connection, change.row["incident_id"])

    def task_accepted(self, event: EventData) -> None:
        change = change_of(event)
        incident = self._incident_of(change)
        if incident["state"] == IncidentState.DISPATCHED:
            self.incidents.fire(
                change.tx, incident, "respond", actor=change.actor, causation_id=change.causation_id
            )

    def task_arrived(self, event: EventData) -> None:
        change = change_of(event)
        incident = self._incident_of(change)
        if incident["state"] in (IncidentState.DISPATCHED, IncidentState.RESPONDING):
            self.incidents.fire(
                change.tx, incident, "arrive", actor=change.actor, causation_id=change.causation_id
            )

    def task_declined(self, event: EventData) -> None:
        change = change_of(event)
        assert self.incidents.policy is not None
        incident = self._incident_of(change)
        if incident["state"] in OPEN_INCIDENT_STATES:
            self.incidents.policy.replace_declined(change, incident)

    def task_completed(self, event: EventData) -> None:
        """Nothing more: the dispatcher resolves the incident once the work is judged done."""
