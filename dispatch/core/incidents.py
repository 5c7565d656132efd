"""The incident lifecycle: a `transitions` machine over the table in state_machines/.

One machine per lifecycle, not per incident: the row holds the state, and before each
trigger the machine's single model (the lifecycle below) is pointed at the row. Everything
runs inside the writer thread, so there is never more than one row in flight. Each trigger
is planned by the `prepare` callback its table row names (before anything is written), then
recorded; what must follow (open a step, assign a responder) is returned, not done here.
"""

from __future__ import annotations

from collections.abc import Mapping

from transitions import EventData

from dispatch.config.model import Config
from dispatch.core.change import (
    AssignResponder,
    Fired,
    IncidentChange,
    Moved,
    OpenStepForTier,
    build_machine,
    incident_change,
)
from dispatch.core.department_tasks import DepartmentTaskLifecycle
from dispatch.core.incident_planning import IncidentPlanning
from dispatch.core.tasks import TaskLifecycle
from dispatch.events.catalog import (
    INCIDENT_EVENT_BY_TRIGGER,
    IncidentForwarded,
    IncidentMerged,
)
from dispatch.shared.errors import IllegalTransition
from dispatch.storage import repository
from dispatch.storage.records import Incident, Task
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import INCIDENT, OPEN_TASK_STATES, IncidentTrigger, TaskTrigger


class IncidentLifecycle(IncidentPlanning):
    """The model of the incident machine; owns the callbacks the table names.

    An incident that ends ends its open tasks: the task lifecycle is below this one.
    """

    def __init__(self, config: Config, tasks: TaskLifecycle) -> None:
        self.config = config
        self.tasks = tasks
        self.department_tasks = DepartmentTaskLifecycle(config)
        self.state: str = INCIDENT.initial
        self.machine = build_machine(INCIDENT, self)

    # The one entry point --------------------------------------------------------------------

    def fire(
        self,
        tx: Tx,
        row: Incident,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> Fired:
        """Apply `trigger` to the row; unchanged when it was a harmless repeat."""
        allowed = INCIDENT.triggers_from(row.state)
        if trigger not in allowed:
            raise IllegalTransition(
                f"incident {row.id} is {row.state}: {trigger!r} is not allowed",
                state=row.state,
                allowed=allowed,
            )
        change = IncidentChange(tx, row, trigger, actor, causation_id, reason, params or {})
        self.state = row.state
        if not self.trigger(trigger, change=change):  # type: ignore[attr-defined]
            if change.repeat:
                return Fired(False)
            refusal = change.refusal or f"incident {row.id}: {trigger!r} was refused"
            raise IllegalTransition(refusal, state=row.state, allowed=_without(allowed, trigger))
        return Fired(True, change.follow_ups)

    # Callbacks --------------------------------------------------------------------------------

    def record_transition(self, event: EventData) -> None:
        """Every trigger's event, with the fields its planning found, then the state it moves to."""
        change = incident_change(event)
        row, tx = change.row, change.tx
        if change.forward:
            self._record_forward(change)
            return
        source = row.state
        assert event.transition is not None
        dest = event.transition.dest or source
        moved = Moved(
            occurred_at=tx.now,
            actor=change.actor,
            causation_id=change.causation_id,
            incident_id=row.id,
            trigger=change.trigger,
            from_state=source,
            to_state=dest,
            reason=change.reason,
        )
        if change.event_of is not None:
            tx.record(change.event_of(moved))
        else:
            tx.record(INCIDENT_EVENT_BY_TRIGGER[change.trigger](**moved))
        if dest == source:
            repository.update(tx.connection, incident_table, row, updated_at=tx.now)
        else:
            milestones = {**row.milestones, dest: tx.now}
            repository.update(
                tx.connection, incident_table, row, updated_at=tx.now, state=dest, milestones=milestones
            )

    def _record_forward(self, change: IncidentChange) -> None:
        """Past the top tier: the prefecture is told; the incident's state and owner stay."""
        assert self.config.prefecture is not None  # planning forwards only when there is one
        change.tx.record(
            IncidentForwarded(
                occurred_at=change.tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=change.row.id,
                prefecture_id=self.config.prefecture.id,
                reason=change.reason,
            )
        )

    def move_owner_up(self, event: EventData) -> None:
        change = incident_change(event)
        if change.forward:
            repository.update(change.tx.connection, incident_table, change.row, forwarded=True)
            return
        self._move_owner(change)

    def move_owner_down(self, event: EventData) -> None:
        self._move_owner(incident_change(event))

    def _move_owner(self, change: IncidentChange) -> None:
        target = change.target
        assert target is not None  # the table's condition let only a planned move through
        repository.update(
            change.tx.connection,
            incident_table,
            change.row,
            owner_jurisdiction_id=target.id,
            owner_tier=target.tier.value,
        )
        change.follow_ups.append(OpenStepForTier(change.row, target.tier))

    def assign_responder(self, event: EventData) -> None:
        change = incident_change(event)
        assert change.responder is not None  # plan_assign found it
        change.follow_ups.append(AssignResponder(change.row, change.responder))

    def hand_over_task(self, event: EventData) -> None:
        """Reassign: the old task is cancelled (its responder is free again), the new one opens."""
        change = incident_change(event)
        assert change.task is not None and change.responder is not None  # plan_reassign found them
        self._cancel_task(change, change.task, f"reassigned to {change.responder.id}")
        change.follow_ups.append(AssignResponder(change.row, change.responder))

    def update_departments(self, event: EventData) -> None:
        """A department added gets its task (协办) in this transaction; one taken off, its task cancelled."""
        change = incident_change(event)
        repository.update(change.tx.connection, incident_table, change.row, departments=change.departments)
        department = str(change.params["department"])  # planning checked it
        if change.trigger == IncidentTrigger.ADD_DEPARTMENT:
            self.department_tasks.send(
                change.tx, change.row, department, actor=change.actor, causation_id=change.causation_id
            )
        else:
            self._end_department_work(change, "department removed from the incident", department)

    def end_department_work(self, event: EventData) -> None:
        """Closed: what co-handlers still had open is cancelled."""
        change = incident_change(event)
        self._end_department_work(change, f"incident {change.trigger}")

    def _end_department_work(
        self, change: IncidentChange, reason: str, department: str | None = None
    ) -> None:
        self.department_tasks.cancel_open(
            change.tx,
            change.row,
            actor=change.actor,
            causation_id=change.causation_id,
            reason=reason,
            department_id=department,
        )

    def end_open_work(self, event: EventData) -> None:
        change = incident_change(event)
        self._cancel_open_tasks(change)
        if change.trigger == IncidentTrigger.CANCEL:
            # A resolve the policy allowed leaves co-handlers' parts open until the incident closes.
            self._end_department_work(change, "incident cancelled")
        ended: dict[str, object] = {"step_deadline_at": None}
        if change.summary is not None:
            ended["summary"] = change.summary
        repository.update(change.tx.connection, incident_table, change.row, **ended)

    def merge_into(self, event: EventData) -> None:
        change = incident_change(event)
        tx, row, target = change.tx, change.row, change.merge_target
        assert target is not None  # plan_merge found it
        self._cancel_open_tasks(change)
        self._end_department_work(change, f"incident merged into {target.id}")
        joining = [department for department in row.departments if department not in target.departments]
        tx.connection.execute(
            alert_table.update().where(alert_table.c.incident_id == row.id).values(incident_id=target.id)
        )
        repository.update(
            tx.connection,
            incident_table,
            target,
            alert_count=target.alert_count + row.alert_count,
            # Co-handlers of the absorbed incident stay on the case.
            departments=[*target.departments, *joining],
            last_alert_at=max(target.last_alert_at, row.last_alert_at),
            updated_at=tx.now,
        )
        repository.update(tx.connection, incident_table, row, merged_into=target.id, step_deadline_at=None)
        tx.record(
            IncidentMerged(
                occurred_at=tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=target.id,
                trigger="absorb",
                from_state=target.state,
                to_state=target.state,
                reason=f"incident {row.id} merged into this one",
                into_incident_id=target.id,
            )
        )
        for department in joining:  # their parts of the absorbed incident were cancelled above
            self.department_tasks.send(
                tx, target, department, actor=change.actor, causation_id=change.causation_id
            )

    def _cancel_open_tasks(self, change: IncidentChange) -> None:
        for task in repository.tasks_of(change.tx.connection, change.row.id):
            if task.state in OPEN_TASK_STATES:
                self._cancel_task(change, task, f"incident {change.trigger}")

    def _cancel_task(self, change: IncidentChange, task: Task, note: str) -> None:
        fired = self.tasks.fire(
            change.tx,
            task,
            TaskTrigger.CANCEL,
            actor=change.actor,
            causation_id=change.causation_id,
            note=note,
        )
        change.follow_ups.extend(fired.follow_ups)


def _without(items: list[str], item: str) -> list[str]:
    return [each for each in items if each != item]
