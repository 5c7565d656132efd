"""Planning an incident trigger: look up and check what it names before anything is written.

Each method is a `prepare` or `conditions` callback a row of state_machines/incident.py
names; the incident lifecycle inherits them. A bad request raises here, so it changes nothing.
"""

from __future__ import annotations

from transitions import EventData

from dispatch.config.model import Config, Jurisdiction
from dispatch.core.change import IncidentChange, Moved, incident_change
from dispatch.core.department_tasks import may_resolve_with_open_parts
from dispatch.events.catalog import (
    IncidentAssigned,
    IncidentChanged,
    IncidentDelegated,
    IncidentDepartmentAdded,
    IncidentDepartmentRemoved,
    IncidentEscalated,
    IncidentMerged,
    IncidentReassigned,
)
from dispatch.shared.errors import DepartmentPartOpen, InvalidInput, NotFound
from dispatch.storage import department_tasks, repository
from dispatch.storage.records import Incident, Responder
from dispatch.storage.writer import Tx
from state_machines import OPEN_INCIDENT_STATES, OPEN_TASK_STATES, IncidentTrigger, ResponderStatus


class IncidentPlanning:
    """The `prepare` and `conditions` callbacks of the incident table."""

    config: Config

    def plan_escalate(self, event: EventData) -> None:
        change = incident_change(event)
        row, wanted = change.row, change.params.get("to")
        owner = self.config.jurisdiction_by_id[row.owner_jurisdiction_id]
        if wanted is not None:
            change.target = self.config.jurisdiction_by_id[str(wanted)]
        elif owner.parent is not None:
            change.target = self.config.jurisdiction_by_id[owner.parent]
        elif self.config.prefecture is not None and not row.forwarded:
            change.forward = True
        change.refusal = f"incident {row.id} is owned by the top tier ({owner.id}) already"
        _plan_owner_move(change)

    def plan_delegate(self, event: EventData) -> None:
        change = incident_change(event)
        change.target = self._delegate_target(change.row, change.params.get("jurisdiction"))
        change.refusal = (
            f"incident {change.row.id}: no tier under {change.row.owner_jurisdiction_id} covers its location"
        )
        _plan_owner_move(change)

    def plan_assign(self, event: EventData) -> None:
        change = incident_change(event)
        responder = _on_duty_responder(change.tx, "assign", change.params.get("responder_id"))
        change.responder = responder
        change.event_of = lambda moved: IncidentAssigned(**moved, responder_id=responder.id)

    def plan_resolve(self, event: EventData) -> None:
        change = incident_change(event)
        if not (change.reason or "").strip():
            # The summary is what the audit trail keeps of how it ended.
            raise InvalidInput("resolve needs a summary of the outcome in reason", field="reason")
        change.summary = change.reason
        self._check_department_parts(change)

    def _check_department_parts(self, change: IncidentChange) -> None:
        """Unless its policy allows it, an incident is resolved only once no co-handler's part is open."""
        if may_resolve_with_open_parts(change.row):
            return
        open_parts = department_tasks.open_of(change.tx.connection, change.row.id)
        if not open_parts:
            return
        named = "; ".join(
            f"{self._department_name(task.department_id)} ({task.department_id}): "
            f"department task {task.id} is {task.state}"
            for task in open_parts
        )
        raise DepartmentPartOpen(
            f"incident {change.row.id} cannot be resolved while a co-handling department's part is "
            f"open — {named}; it must be completed or declined, or the department removed, first"
        )

    def _department_name(self, department_id: str) -> str:
        department = self.config.department_by_id.get(department_id)
        return department.name if department is not None else department_id

    def plan_merge(self, event: EventData) -> None:
        change = incident_change(event)
        into = change.params.get("into_incident_id")
        if not isinstance(into, int) or into == change.row.id:
            raise InvalidInput("merge needs into_incident_id, another incident", field="into_incident_id")
        try:
            target = repository.incident(change.tx.connection, into)
        except NotFound as err:
            raise NotFound(str(err), field="into_incident_id") from err
        if target.state not in OPEN_INCIDENT_STATES:
            raise InvalidInput(f"incident {into} is {target.state}", field="into_incident_id")
        change.merge_target = target
        change.event_of = lambda moved: IncidentMerged(**moved, into_incident_id=target.id)

    def plan_reassign(self, event: EventData) -> None:
        change = incident_change(event)
        row, tx = change.row, change.tx
        task_id = change.params.get("task_id")
        if not isinstance(task_id, int):
            raise InvalidInput("reassign needs task_id, an open task of this incident", field="task_id")
        tasks = repository.tasks_of(tx.connection, row.id)
        # A task of another incident is reported like a missing one: ids elsewhere stay private.
        task = next((each for each in tasks if each.id == task_id), None)
        if task is None:
            raise NotFound(f"incident {row.id} has no task {task_id}", field="task_id")
        if task.state not in OPEN_TASK_STATES:
            raise InvalidInput(f"task {task_id} is {task.state}, no longer open", field="task_id")
        responder = _on_duty_responder(tx, "reassign", change.params.get("responder_id"))
        if any(each.responder_id == responder.id and each.state in OPEN_TASK_STATES for each in tasks):
            raise InvalidInput(
                f"responder {responder.id!r} already has an open task on incident {row.id}",
                field="responder_id",
            )
        change.task, change.responder = task, responder
        change.event_of = lambda moved: IncidentReassigned(
            **moved, task_id=task.id, from_responder_id=task.responder_id, to_responder_id=responder.id
        )

    def plan_add_department(self, event: EventData) -> None:
        self._plan_departments(incident_change(event), adding=True)

    def plan_remove_department(self, event: EventData) -> None:
        self._plan_departments(incident_change(event), adding=False)

    def _plan_departments(self, change: IncidentChange, *, adding: bool) -> None:
        """The lead department (first: the category's when the incident opened) always stays."""
        department = change.params.get("department")
        current = change.row.departments
        if not department or not isinstance(department, str):
            raise InvalidInput(f"{change.trigger} needs department", field="department")
        # A department dropped from config.yaml may still be taken off an incident that lists it.
        if department not in self.config.department_by_id and (adding or department not in current):
            raise InvalidInput(f"unknown department {department!r}", field="department")
        if not adding and current and department == current[0]:
            raise InvalidInput(
                f"{department!r} leads incident {change.row.id} and cannot be removed", field="department"
            )
        if adding:
            change.departments = current if department in current else [*current, department]
        else:
            change.departments = [each for each in current if each != department]
        departments = change.departments
        change.repeat = departments == current

        def event_of(moved: Moved) -> IncidentChanged:
            kind = IncidentDepartmentAdded if adding else IncidentDepartmentRemoved
            return kind(**moved, department=department, departments=departments)

        change.event_of = event_of

    def _delegate_target(self, row: Incident, wanted: object) -> Jurisdiction | None:
        owner_id = row.owner_jurisdiction_id
        if wanted is not None:
            node = self.config.jurisdiction_by_id.get(wanted) if isinstance(wanted, str) else None
            if node is None or node.parent != owner_id:
                raise not_a_child(wanted, owner_id)
            return node
        for node in self.config.ancestors(row.jurisdiction_id):
            if node.parent == owner_id:
                return node
        return None

    # Conditions -------------------------------------------------------------------------------

    def has_tier_above(self, event: EventData) -> bool:
        change = incident_change(event)
        return change.target is not None or change.forward

    def has_tier_below(self, event: EventData) -> bool:
        return incident_change(event).target is not None

    def changes_departments(self, event: EventData) -> bool:
        return not incident_change(event).repeat


def _plan_owner_move(change: IncidentChange) -> None:
    """The escalated/delegated event names both owners and the step the incident was at."""
    if change.target is None:
        return
    row, target = change.row, change.target
    kind = IncidentEscalated if change.trigger == IncidentTrigger.ESCALATE else IncidentDelegated

    def event_of(moved: Moved) -> IncidentChanged:
        return kind(
            **moved,
            from_jurisdiction_id=row.owner_jurisdiction_id,
            to_jurisdiction_id=target.id,
            from_tier=row.owner_tier,
            to_tier=target.tier.value,
            step_index=row.step_index,
        )

    change.event_of = event_of


def _on_duty_responder(tx: Tx, trigger: str, responder_id: object) -> Responder:
    if not responder_id or not isinstance(responder_id, str):
        raise InvalidInput(f"{trigger} needs responder_id", field="responder_id")
    responder = repository.responder(tx.connection, responder_id)
    if responder is None:
        raise NotFound(f"responder {responder_id!r} does not exist", field="responder_id")
    if responder.status == ResponderStatus.OFF_DUTY:
        raise InvalidInput(f"responder {responder_id!r} is off duty", field="responder_id")
    return responder


def not_a_child(wanted: object, owner_id: str) -> InvalidInput:
    """Delegate's refusal of a jurisdiction: unknown, not under the owner, or not the caller's."""
    return InvalidInput(f"{wanted!r} is not a jurisdiction directly under {owner_id!r}", field="jurisdiction")
