"""The incident lifecycle: a `transitions` machine over the table in state_machines/.

One machine per lifecycle, not per incident: the row holds the state, and before each
trigger the machine's single model (the lifecycle service below) is pointed at the row.
Everything runs inside the writer thread, so there is never more than one row in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine

from dispatch.config.model import Config, Jurisdiction
from dispatch.events.catalog import (
    INCIDENT_EVENT_BY_TRIGGER,
    IncidentForwarded,
    IncidentMerged,
)
from dispatch.shared.errors import IllegalTransition, InvalidInput, NotFound
from dispatch.storage import repository
from dispatch.storage.repository import Row
from dispatch.storage.tables import alert_table, incident_table
from dispatch.storage.writer import Tx
from state_machines import INCIDENT, IncidentState, Lifecycle, TaskState

if TYPE_CHECKING:
    from dispatch.core.escalation import PolicyRunner
    from dispatch.core.tasks import TaskLifecycle

OPEN_TASK_STATES = frozenset(
    {TaskState.PENDING, TaskState.SENT, TaskState.DELIVERED, TaskState.ACCEPTED}
    | {TaskState.EN_ROUTE, TaskState.ON_SCENE}
)
UNANSWERED_TASK_STATES = frozenset({TaskState.PENDING, TaskState.SENT, TaskState.DELIVERED})
OPEN_INCIDENT_STATES = frozenset(
    {IncidentState.REPORTED, IncidentState.VERIFYING, IncidentState.DISPATCHED}
    | {IncidentState.RESPONDING, IncidentState.ON_SCENE}
)


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


class IncidentLifecycle:
    """The model of the incident machine; owns the callbacks the table names."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state: str = INCIDENT.initial
        self.policy: PolicyRunner | None = None  # wired by the service
        self.tasks: TaskLifecycle | None = None
        self.machine = build_machine(INCIDENT, self)

    # The one entry point --------------------------------------------------------------------

    def fire(
        self,
        tx: Tx,
        row: Row,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        reason: str | None = None,
        **params: Any,
    ) -> bool:
        """Apply `trigger` to the row; False when it was a harmless repeat that changed nothing."""
        allowed = INCIDENT.triggers_from(row["state"])
        if trigger not in allowed:
            raise IllegalTransition(
                f"incident {row['id']} is {row['state']}: {trigger!r} is not allowed",
                state=row["state"],
                allowed=allowed,
            )
        change = Change(tx, row, trigger, actor, causation_id, reason, params)
        self._plan(change)
        if change.repeat:
            return False
        self.state = row["state"]
        if not self.trigger(trigger, change=change):  # type: ignore[attr-defined]
            raise IllegalTransition(
                self._refusal(change), state=row["state"], allowed=_without(allowed, trigger)
            )
        return True

    def _plan(self, change: Change) -> None:
        """Look up what the trigger needs before it runs, so a bad request changes nothing."""
        row, params, tx = change.row, change.params, change.tx
        if change.trigger == "escalate":
            owner = self.config.jurisdiction_by_id[row["owner_jurisdiction_id"]]
            if params.get("to") is not None:
                change.target = self.config.jurisdiction_by_id[params["to"]]
            elif owner.parent is not None:
                change.target = self.config.jurisdiction_by_id[owner.parent]
            elif self.config.prefecture is not None and not row["forwarded"]:
                change.forward = True
        elif change.trigger == "delegate":
            change.target = self._delegate_target(row, params.get("jurisdiction"))
        elif change.trigger == "assign":
            change.responder = self._on_duty_responder(tx, "assign", params.get("responder_id"))
        elif change.trigger == "reassign":
            self._plan_reassign(change)
        elif change.trigger in ("add_department", "remove_department"):
            self._plan_departments(change)
        elif change.trigger == "resolve" and not (change.reason or "").strip():
            # The summary is what the audit trail keeps of how it ended.
            raise InvalidInput("resolve needs a summary of the outcome in reason", field="reason")
        elif change.trigger == "merge":
            into = params.get("into_incident_id")
            if not isinstance(into, int) or into == row["id"]:
                raise InvalidInput("merge needs into_incident_id, another incident", field="into_incident_id")
            try:
                target = repository.incident(tx.connection, into)
            except NotFound as err:
                raise NotFound(str(err), field="into_incident_id") from err
            if target["state"] not in OPEN_INCIDENT_STATES:
                raise InvalidInput(f"incident {into} is {target['state']}", field="into_incident_id")
            change.merge_target = target

    @staticmethod
    def _on_duty_responder(tx: Tx, trigger: str, responder_id: Any) -> Row:
        if not responder_id or not isinstance(responder_id, str):
            raise InvalidInput(f"{trigger} needs responder_id", field="responder_id")
        responder = repository.responder(tx.connection, responder_id)
        if responder is None:
            raise NotFound(f"responder {responder_id!r} does not exist", field="responder_id")
        if responder["status"] == "off_duty":
            raise InvalidInput(f"responder {responder_id!r} is off duty", field="responder_id")
        return responder

    def _plan_reassign(self, change: Change) -> None:
        row, tx = change.row, change.tx
        task_id = change.params.get("task_id")
        if not isinstance(task_id, int):
            raise InvalidInput("reassign needs task_id, an open task of this incident", field="task_id")
        tasks = repository.tasks_of(tx.connection, row["id"])
        # A task of another incident is reported like a missing one: ids elsewhere stay private.
        task = next((each for each in tasks if each["id"] == task_id), None)
        if task is None:
            raise NotFound(f"incident {row['id']} has no task {task_id}", field="task_id")
        if task["state"] not in OPEN_TASK_STATES:
            raise InvalidInput(f"task {task_id} is {task['state']}, no longer open", field="task_id")
        responder = self._on_duty_responder(tx, "reassign", change.params.get("responder_id"))
        if any(
            each["responder_id"] == responder["id"] and each["state"] in OPEN_TASK_STATES for each in tasks
        ):
            raise InvalidInput(
                f"responder {responder['id']!r} already has an open task on incident {row['id']}",
                field="responder_id",
            )
        change.task, change.responder = task, responder

    def _plan_departments(self, change: Change) -> None:
        """The lead department (first: the category's when the incident opened) always stays."""
        department = change.params.get("department")
        current: list[str] = change.row["departments"]
        adding = change.trigger == "add_department"
        if not department or not isinstance(department, str):
            raise InvalidInput(f"{change.trigger} needs department", field="department")
        # A department dropped from config.yaml may still be taken off an incident that lists it.
        if department not in self.config.department_by_id and (adding or department not in current):
            raise InvalidInput(f"unknown department {department!r}", field="department")
        if not adding and current and department == current[0]:
            raise InvalidInput(
                f"{department!r} leads incident {change.row['id']} and cannot be removed", field="department"
            )
        if adding:
            change.departments = current if department in current else [*current, department]
        else:
            change.departments = [each for each in current if each != department]
        change.repeat = change.departments == current

    def _delegate_target(self, row: Row, wanted: str | None) -> Jurisdiction | None:
        owner_id = row["owner_jurisdiction_id"]
        if wanted is not None:
            node = self.config.jurisdiction_by_id.get(wanted)
            if node is None or node.parent != owner_id:
                raise not_a_child(wanted, owner_id)
            return node
        path = list(self.config.ancestors(row["jurisdiction_id"]))
        for node in path:
            if node.parent == owner_id:
                return node
        return None

    def _refusal(self, change: Change) -> str:
        owner = change.row["owner_jurisdiction_id"]
        if change.trigger == "escalate":
            return f"incident {change.row['id']} is owned by the top tier ({owner}) already"
        if change.trigger == "delegate":
            return f"incident {change.row['id']}: no tier under {owner} covers its location"
        return f"incident {change.row['id']}: {change.trigger!r} was refused"

    # Conditions -------------------------------------------------------------------------------

    def has_tier_above(self, event: EventData) -> bool:
        change = change_of(event)
        return change.target is not None or change.forward

    def has_tier_below(self, event: EventData) -> bool:
        return change_of(event).target is not None

    # Callbacks --------------------------------------------------------------------------------

    def record_transition(self, event: EventData) -> None:
        change = change_of(event)
        row, tx = change.row, change.tx
        source = row["state"]
        assert event.transition is not None
        dest = event.transition.dest or source
        extra: dict[str, Any] = {}
        if change.trigger in ("escalate", "delegate"):
            if change.forward:
                tx.record(
                    IncidentForwarded(
                        occurred_at=tx.now,
                        actor=change.actor,
                        causation_id=change.causation_id,
                        incident_id=row["id"],
                        prefecture_id=self.config.prefecture.id,  # type: ignore[union-attr]
                        reason=change.reason,
                    )
                )
                return
            assert change.target is not None
            extra = {
                "from_jurisdiction_id": row["owner_jurisdiction_id"],
                "to_jurisdiction_id": change.target.id,
                "from_tier": row["owner_tier"],
                "to_tier": change.target.tier.value,
                "step_index": row["step_index"],
            }
        elif change.trigger == "assign":
            assert change.responder is not None
            extra = {"responder_id": change.responder["id"]}
        elif change.trigger == "merge":
            assert change.merge_target is not None
            extra = {"into_incident_id": change.merge_target["id"]}
        elif change.trigger == "reassign":
            assert change.task is not None and change.responder is not None
            extra = {
                "task_id": change.task["id"],
                "from_responder_id": change.task["responder_id"],
                "to_responder_id": change.responder["id"],
            }
        elif change.trigger in ("add_department", "remove_department"):
            extra = {"department": change.params["department"], "departments": change.departments}
        event_type = INCIDENT_EVENT_BY_TRIGGER[change.trigger]
        tx.record(
            event_type(
                occurred_at=tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=row["id"],
                trigger=change.trigger,
                from_state=source,
                to_state=dest,
                reason=change.reason,
                **extra,
            )
        )
        values: dict[str, Any] = {"updated_at": tx.now}
        if dest != source:
            values["state"] = dest
            values["milestones"] = {**row["milestones"], dest: tx.now}
        repository.update(tx.connection, incident_table, row, **values)

    def move_owner_up(self, event: EventData) -> None:
        change = change_of(event)
        if change.forward:
            repository.update(change.tx.connection, incident_table, change.row, forwarded=True)
            return
        self._move_owner(change)

    def move_owner_down(self, event: EventData) -> None:
        self._move_owner(change_of(event))

    def _move_owner(self, change: Change) -> None:
        assert change.target is not None and self.policy is not None
        target = change.target
        repository.update(
            change.tx.connection,
            incident_table,
            change.row,
            owner_jurisdiction_id=target.id,
            owner_tier=target.tier.value,
        )
        if change.params.get("automatic"):
            return  # the policy runner opens the next step itself
        # By hand: the new owner's step of the policy snapshot starts now.
        self.policy.open_step_for_tier(change, target.tier)

    def assign_responder(self, event: EventData) -> None:
        change = change_of(event)
        assert self.policy is not None and change.responder is not None
        self.policy.assign_by_hand(change, change.responder)

    def hand_over_task(self, event: EventData) -> None:
        """Reassign: the old task is cancelled (its responder is free again), the new one opens."""
        change = change_of(event)
        assert self.tasks is not None and self.policy is not None
        assert change.task is not None and change.responder is not None
        self.tasks.fire(
            change.tx,
            change.task,
            "cancel",
            actor=change.actor,
            causation_id=change.causation_id,
            note=f"reassigned to {change.responder['id']}",
        )
        self.policy.assign_by_hand(change, change.responder)

    def update_departments(self, event: EventData) -> None:
        change = change_of(event)
        repository.update(change.tx.connection, incident_table, change.row, departments=change.departments)

    def end_open_work(self, event: EventData) -> None:
        change = change_of(event)
        self._cancel_tasks(change)
        values: dict[str, Any] = {"step_deadline_at": None}
        if change.trigger == "resolve" and change.reason:
            values["summary"] = change.reason
        repository.update(change.tx.connection, incident_table, change.row, **values)

    def merge_into(self, event: EventData) -> None:
        change = change_of(event)
        tx, row, target = change.tx, change.row, change.merge_target
        assert target is not None
        self._cancel_tasks(change)
        tx.connection.execute(
            alert_table.update()
            .where(alert_table.c.incident_id == row["id"])
            .values(incident_id=target["id"])
        )
        repository.update(
            tx.connection,
            incident_table,
            target,
            alert_count=target["alert_count"] + row["alert_count"],
            # Co-handlers of the absorbed incident stay on the case.
            departments=[
                *target["departments"],
                *(d for d in row["departments"] if d not in target["departments"]),
            ],
            last_alert_at=max(target["last_alert_at"], row["last_alert_at"]),
            updated_at=tx.now,
        )
        repository.update(tx.connection, incident_table, row, merged_into=target["id"], step_deadline_at=None)
        tx.record(
            IncidentMerged(
                occurred_at=tx.now,
                actor=change.actor,
                causation_id=change.causation_id,
                incident_id=target["id"],
                trigger="absorb",
                from_state=target["state"],
                to_state=target["state"],
                reason=f"incident {row['id']} merged into this one",
                into_incident_id=target["id"],
            )
        )

    def _cancel_tasks(self, change: Change) -> None:
        assert self.tasks is not None
        for task in repository.tasks_of(change.tx.connection, change.row["id"]):
            if task["state"] in OPEN_TASK_STATES:
                self.tasks.fire(
                    change.tx,
                    task,
                    "cancel",
                    actor=change.actor,
                    causation_id=change.causation_id,
                    note=f"incident {change.trigger}",
                )


def not_a_child(wanted: str, owner_id: str) -> InvalidInput:
    """Delegate's refusal of a jurisdiction: unknown, not under the owner, or not the caller's."""
    return InvalidInput(f"{wanted!r} is not a jurisdiction directly under {owner_id!r}", field="jurisdiction")


def _without(items: list[str], item: str) -> list[str]:
    return [each for each in items if each != item]
