"""The department task (协办) lifecycle: a co-handling department's part of an incident.

A department added to an incident (trigger `add_department`) gets a task in the same writer
transaction: `sent`, with an acceptance deadline from the incident's policy snapshot. Its desk
accepts, declines (with a reason) or completes it; the server cancels it when the department is
taken off the incident or the incident ends. A task not accepted by its deadline is escalated
to the city center once (an alarm on the city's consoles) and stays `sent`: it may still be
accepted. Deadlines are rows (`accept_by`), fired by the same scheduler as step deadlines, so
they survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from transitions import EventData

from dispatch.config.model import Config
from dispatch.core.change import build_machine
from dispatch.events.catalog import DEPARTMENT_TASK_EVENT_BY_TRIGGER, DepartmentTaskEscalated
from dispatch.shared.errors import IllegalTransition, InvalidInput
from dispatch.storage import department_tasks, repository
from dispatch.storage.records import DepartmentTask, Incident
from dispatch.storage.tables import department_task_table
from dispatch.storage.writer import Tx
from state_machines import DEPARTMENT_TASK, DepartmentTaskState, DepartmentTaskTrigger

DEFAULT_ACCEPT_WITHIN_S = 600.0
"""An incident whose policy snapshot predates department tasks: the policy field's default."""
DEADLINE_ACTOR = "system:deadline"


@dataclass
class DepartmentTaskChange:
    """One department task trigger in flight."""

    tx: Tx
    row: DepartmentTask
    incident: Incident
    trigger: str
    actor: str
    causation_id: str | None
    reason: str | None = None


def accept_within(incident: Incident) -> float:
    found = incident.policy.department_accept_within
    return DEFAULT_ACCEPT_WITHIN_S if found is None else found


def may_resolve_with_open_parts(incident: Incident) -> bool:
    return bool(incident.policy.resolve_with_open_departments)


class DepartmentTaskLifecycle:
    """The model of the department task machine; owns the callbacks the table names."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state: str = DEPARTMENT_TASK.initial
        self.machine = build_machine(DEPARTMENT_TASK, self)

    def send(
        self, tx: Tx, incident: Incident, department_id: str, *, actor: str, causation_id: str | None
    ) -> DepartmentTask | None:
        """A new task for the department, unless it has one open on the incident already."""
        if any(
            task.department_id == department_id
            for task in department_tasks.open_of(tx.connection, incident.id)
        ):
            return None
        accept_by = tx.now + accept_within(incident)
        task = DepartmentTask(
            id=tx.ids.next("department_task"),
            incident_id=incident.id,
            department_id=department_id,
            state=DepartmentTaskState.SENT.value,
            reason=None,
            accept_by=accept_by,
            escalated=False,
            milestones={DepartmentTaskState.SENT.value: tx.now},
            created_at=tx.now,
            updated_at=tx.now,
        )
        department_tasks.insert(tx.connection, task)
        tx.deadlines.append(accept_by)  # the scheduler wakes for it after the commit
        change = DepartmentTaskChange(tx, task, incident, "send", actor, causation_id)
        self._record(change, None, DepartmentTaskState.SENT.value)
        return task

    def fire(
        self,
        tx: Tx,
        row: DepartmentTask,
        incident: Incident,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Apply `trigger`; False when it repeats the task's state (accept of an accepted task)."""
        allowed = DEPARTMENT_TASK.triggers_from(row.state)
        if trigger not in allowed:
            if _repeat(row.state, trigger):
                return False
            raise IllegalTransition(
                f"department task {row.id} is {row.state}: {trigger!r} is not allowed",
                state=row.state,
                allowed=allowed,
            )
        change = DepartmentTaskChange(tx, row, incident, trigger, actor, causation_id, reason)
        self.state = row.state
        self.trigger(trigger, change=change)  # type: ignore[attr-defined]
        return True

    def cancel_open(
        self,
        tx: Tx,
        incident: Incident,
        *,
        actor: str,
        causation_id: str | None,
        reason: str,
        department_id: str | None = None,
    ) -> None:
        """Cancel the incident's open tasks (of one department, given one)."""
        for task in department_tasks.open_of(tx.connection, incident.id):
            if department_id is None or task.department_id == department_id:
                self.fire(
                    tx,
                    task,
                    incident,
                    DepartmentTaskTrigger.CANCEL,
                    actor=actor,
                    causation_id=causation_id,
                    reason=reason,
                )

    # Deadlines --------------------------------------------------------------------------------

    def fire_due(self, tx: Tx, limit: int) -> tuple[int, float | None]:
        """Escalate every task past its `accept_by`; returns how many, and the next deadline."""
        due = department_tasks.due(tx.connection, tx.now, limit)
        for task_id in due:

            def escalate(tx: Tx, task_id: int = task_id) -> None:
                row = department_tasks.department_task(tx.connection, task_id)
                incident = repository.incident(tx.connection, row.incident_id)
                self.fire(
                    tx,
                    row,
                    incident,
                    DepartmentTaskTrigger.ESCALATE,
                    actor=DEADLINE_ACTOR,
                    causation_id=f"deadline:department_task:{task_id}",
                    reason=f"not accepted within {accept_within(incident):g}s",
                )

            ok, _ = tx.isolated(escalate)
            if not ok:
                department_tasks.stop_escalating(tx.connection, task_id)
        return len(due), department_tasks.next_due(tx.connection)

    # Callbacks --------------------------------------------------------------------------------

    def plan_decline(self, event: EventData) -> None:
        change: DepartmentTaskChange = event.kwargs["change"]
        if not (change.reason or "").strip():
            raise InvalidInput("decline needs the reason the department gives", field="reason")

    def record_transition(self, event: EventData) -> None:
        change: DepartmentTaskChange = event.kwargs["change"]
        assert event.transition is not None
        dest = event.transition.dest or change.row.state
        self._record(change, change.row.state, dest)

    def _record(self, change: DepartmentTaskChange, source: str | None, dest: str) -> None:
        tx, row, incident = change.tx, change.row, change.incident
        kind = DEPARTMENT_TASK_EVENT_BY_TRIGGER[change.trigger]
        fields = {
            "occurred_at": tx.now,
            "actor": change.actor,
            "causation_id": change.causation_id,
            "incident_id": row.incident_id,
            "department_task_id": row.id,
            "department_id": row.department_id,
            "trigger": change.trigger,
            "from_state": source,
            "to_state": dest,
            "reason": change.reason,
            "accept_by": row.accept_by,
            "category": incident.category,
            "severity": incident.severity,
            "jurisdiction_id": incident.jurisdiction_id,
            "lat": incident.lat,
            "lon": incident.lon,
            "title": incident.title,
        }
        if kind is DepartmentTaskEscalated:
            tx.record(DepartmentTaskEscalated(**fields, city_jurisdiction_id=self.config.root.id))  # type: ignore[arg-type]
        else:
            tx.record(kind(**fields))  # type: ignore[arg-type]
        if source is None:
            return  # a new task: inserted as it is
        moved: dict[str, object] = {"updated_at": tx.now}
        if change.trigger == DepartmentTaskTrigger.ESCALATE:
            moved["escalated"] = True
        else:
            moved["state"] = dest
            moved["milestones"] = {**row.milestones, dest: tx.now}
        if change.reason is not None and change.trigger != DepartmentTaskTrigger.ESCALATE:
            moved["reason"] = change.reason
        repository.update(tx.connection, department_task_table, row, **moved)


def _repeat(state: str, trigger: str) -> bool:
    """A trigger whose destination the task is in already (a retried accept) changes nothing."""
    return any(row.trigger == trigger and row.dest == state for row in DEPARTMENT_TASK.transitions)
