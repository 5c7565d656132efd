"""Assignment: pick the nearest qualified free responders and open their tasks."""

from __future__ import annotations

from dispatch.config.model import Config, Jurisdiction
from dispatch.core import responder_status
from dispatch.events.catalog import TaskAssigned
from dispatch.shared.geo import distance_m
from dispatch.storage import repository
from dispatch.storage.records import Incident, Responder, Task
from dispatch.storage.tables import task_table
from dispatch.storage.writer import Tx
from state_machines import OPEN_TASK_STATES, ResponderStatus, TaskState

DEFAULT_MANUAL_ACCEPT_S = 120.0
_insert_task = task_table.insert()


class Assigner:
    def __init__(self, config: Config) -> None:
        self.config = config

    def pick(
        self,
        tx: Tx,
        incident: Incident,
        owner: Jurisdiction,
        count: int,
        department_only: bool,
        tasks: list[Task] | None = None,
    ) -> list[tuple[Responder, float]]:
        """The `count` nearest free responders of `owner` with every skill the category needs.

        `tasks`, when the caller knows them (none for an incident just opened), spares a read.
        """
        category = self.config.category_by_id[incident.category]
        needed = set(category.skills)
        if tasks is None:
            tasks = repository.tasks_of(tx.connection, incident.id)
        # Who is on it or said no is not asked again; who merely let a deadline pass may be.
        asked = {
            task.responder_id
            for task in tasks
            if task.state in OPEN_TASK_STATES or task.state == TaskState.DECLINED
        }
        lat, lon = incident.lat, incident.lon
        if lat is None or lon is None:
            lat, lon = owner.center.lat, owner.center.lon
        scored: list[tuple[float, str, Responder]] = []
        for responder in repository.available_responders(tx, owner.id):
            if responder.id in asked or not needed.issubset(responder.skills):
                continue
            if department_only and responder.department_id != category.department:
                continue
            scored.append((distance_m(lat, lon, responder.lat, responder.lon), responder.id, responder))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [(responder, distance) for distance, _, responder in scored[:count]]

    def open_task(
        self,
        tx: Tx,
        incident: Incident,
        responder: Responder,
        distance: float | None,
        deadline: float | None,
        *,
        actor: str,
        causation_id: str | None,
    ) -> int:
        tier = self.config.jurisdiction_by_id[responder.jurisdiction_id].tier
        task = Task(
            id=tx.ids.next("task"),
            incident_id=incident.id,
            responder_id=responder.id,
            state=TaskState.PENDING.value,
            tier=tier.value,
            step_index=incident.step_index,
            distance_m=round(distance, 1) if distance is not None else None,
            accept_deadline_at=deadline,
            delivered_via=None,
            milestones={TaskState.PENDING.value: tx.now},
            created_at=tx.now,
            updated_at=tx.now,
        )
        repository.write_held(tx.connection, incident)  # the task's row refers to it
        tx.connection.execute(_insert_task, task.as_row())
        tx.record(_assigned(tx, incident, task, actor=actor, causation_id=causation_id))
        task_id = task.id
        responder_status.change(
            tx,
            responder.id,
            ResponderStatus.BUSY,
            actor=actor,
            causation_id=causation_id,
            incident_id=incident.id,
            task_id=task_id,
            current=responder.status,
        )
        return task_id

    def assign_by_hand(
        self, tx: Tx, incident: Incident, responder: Responder, *, actor: str, causation_id: str | None
    ) -> None:
        """A dispatcher's pick: the step's accept time (or a default) from now."""
        steps = incident.policy.steps
        accept_within = steps[incident.step_index].accept_within if steps else DEFAULT_MANUAL_ACCEPT_S
        deadline = tx.now + accept_within
        if incident.lat is not None and incident.lon is not None:
            distance: float | None = distance_m(incident.lat, incident.lon, responder.lat, responder.lon)
        else:
            distance = None
        if incident.step_deadline_at is None:
            repository.set_step_deadline(tx, incident, deadline)
        self.open_task(tx, incident, responder, distance, deadline, actor=actor, causation_id=causation_id)


def _assigned(
    tx: Tx, incident: Incident, task: Task, *, actor: str, causation_id: str | None
) -> TaskAssigned:
    """The event a responder's device and the dispatcher's screens learn of the task from."""
    return TaskAssigned(
        occurred_at=tx.now,
        actor=actor,
        causation_id=causation_id,
        incident_id=incident.id,
        task_id=task.id,
        responder_id=task.responder_id,
        tier=task.tier,
        step_index=task.step_index,
        distance_m=task.distance_m,
        accept_deadline_at=task.accept_deadline_at,
        category=incident.category,
        severity=incident.severity,
        lat=incident.lat,
        lon=incident.lon,
        title=incident.title,
    )
