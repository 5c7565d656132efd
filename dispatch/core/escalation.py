"""Escalation policy at work: pick the nearest qualified responders, open steps, climb tiers.

An incident carries a snapshot of its policy (STYLE 12). Step i names the tier that owns the
incident and how long that tier's responders have to accept. When nobody qualified is free,
or nobody accepts in time, the next step starts at once and the owner moves up a tier.
"""

from __future__ import annotations

from typing import Any

from dispatch.config.model import Config, Jurisdiction, Tier
from dispatch.core import responder_status
from dispatch.core.incidents import (
    OPEN_TASK_STATES,
    UNANSWERED_TASK_STATES,
    Change,
    IncidentLifecycle,
)
from dispatch.core.routing import distance_m
from dispatch.core.tasks import TaskLifecycle
from dispatch.events.catalog import IncidentUnanswered, TaskAssigned
from dispatch.storage import repository
from dispatch.storage.repository import Row
from dispatch.storage.tables import incident_table, task_table
from dispatch.storage.writer import Tx
from state_machines import IncidentState, TaskState

DEFAULT_MANUAL_ACCEPT_S = 120.0
_insert_task = task_table.insert()


class PolicyRunner:
    def __init__(self, config: Config, incidents: IncidentLifecycle, tasks: TaskLifecycle) -> None:
        self.config = config
        self.incidents = incidents
        self.tasks = tasks

    # Steps ------------------------------------------------------------------------------------

    def start(self, tx: Tx, incident: Row, *, actor: str, causation_id: str | None) -> bool:
        """Open the first step that applies to the incident's location."""
        return self._advance(tx, incident, 0, actor=actor, causation_id=causation_id, reason=None)

    def _advance(
        self,
        tx: Tx,
        incident: Row,
        first_step: int,
        *,
        actor: str,
        causation_id: str | None,
        reason: str | None,
    ) -> bool:
        """Try steps from `first_step` on until one finds responders; True when one did."""
        steps: list[dict[str, Any]] = incident["policy"]["steps"]
        location_tier = self.config.jurisdiction_by_id[incident["jurisdiction_id"]].tier
        for index in range(first_step, len(steps)):
            step = steps[index]
            tier = Tier(step["tier"])
            if tier.depth > location_tier.depth:
                continue  # the location is known only to a higher tier: no such node to ask
            owner = self.config.ancestor_at(incident["jurisdiction_id"], tier)
            if owner.id != incident["owner_jurisdiction_id"]:
                self.incidents.fire(
                    tx,
                    incident,
                    "escalate",
                    actor=actor,
                    causation_id=causation_id,
                    reason=reason,
                    automatic=True,
                    to=owner.id,
                )
            repository.update(tx.connection, incident_table, incident, step_index=index)
            if self._open_step(tx, incident, step, owner, actor=actor, causation_id=causation_id):
                return True
            reason = f"no qualified responder free at {owner.id}"
        repository.set_step_deadline(tx, incident, None)
        tx.record(
            IncidentUnanswered(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident["id"],
                owner_jurisdiction_id=incident["owner_jurisdiction_id"],
                step_index=incident["step_index"],
            )
        )
        return False

    def _open_step(
        self,
        tx: Tx,
        incident: Row,
        step: dict[str, Any],
        owner: Jurisdiction,
        *,
        actor: str,
        causation_id: str | None,
    ) -> bool:
        chosen = self.pick(tx, incident, owner, step["responders"], step["department_only"])
        if not chosen:
            return False
        if incident["state"] in (IncidentState.REPORTED, IncidentState.VERIFYING):
            self.incidents.fire(tx, incident, "dispatch", actor=actor, causation_id=causation_id)
        deadline = tx.now + step["accept_within"]
        repository.set_step_deadline(tx, incident, deadline)
        for responder, distance in chosen:
            self.open_task(
                tx, incident, responder, distance, deadline, actor=actor, causation_id=causation_id
            )
        return True

    def open_step_for_tier(self, change: Change, tier: Tier) -> None:
        """After a manual escalate or delegate: the new owner's own step begins now.

        Unlike a deadline, a dispatcher's move is not undone at once when the new owner has
        nobody free: the step's clock runs, and only when it passes does the policy climb.
        """
        tx, incident = change.tx, change.row
        steps: list[dict[str, Any]] = incident["policy"]["steps"]
        index = next((i for i, step in enumerate(steps) if step["tier"] == tier), None)
        self._expire_unanswered(tx, incident, actor=change.actor, causation_id=change.causation_id)
        if index is None:
            repository.set_step_deadline(tx, incident, None)
            return
        step = steps[index]
        owner = self.config.jurisdiction_by_id[incident["owner_jurisdiction_id"]]
        repository.update(tx.connection, incident_table, incident, step_index=index)
        opened = self._open_step(
            tx, incident, step, owner, actor=change.actor, causation_id=change.causation_id
        )
        if not opened:
            repository.set_step_deadline(tx, incident, tx.now + step["accept_within"])

    def deadline_passed(self, tx: Tx, incident: Row, *, causation_id: str) -> None:
        """The step's time is up: expire what was not answered; climb if nobody accepted."""
        actor = "system:deadline"
        repository.set_step_deadline(tx, incident, None)
        tasks = self._expire_unanswered(tx, incident, actor=actor, causation_id=causation_id)
        if any(task["state"] in OPEN_TASK_STATES for task in tasks):
            return  # someone accepted: the incident is in hand
        step = incident["policy"]["steps"][incident["step_index"]]
        self._advance(
            tx,
            incident,
            incident["step_index"] + 1,
            actor=actor,
            causation_id=causation_id,
            reason=f"not accepted within {step['accept_within']:g}s",
        )

    def _expire_unanswered(self, tx: Tx, incident: Row, *, actor: str, causation_id: str | None) -> list[Row]:
        tasks = repository.tasks_of(tx.connection, incident["id"])
        for task in tasks:
            if task["state"] in UNANSWERED_TASK_STATES:
                self.tasks.fire(tx, task, "expire", actor=actor, causation_id=causation_id)
        return tasks

    def replace_declined(self, change: Change, incident: Row) -> None:
        """A responder said no: ask the next nearest at the same step, or climb at once."""
        tx = change.tx
        steps = incident["policy"]["steps"]
        step = steps[incident["step_index"]]
        owner = self.config.jurisdiction_by_id[incident["owner_jurisdiction_id"]]
        chosen = self.pick(tx, incident, owner, 1, step["department_only"])
        deadline = incident["step_deadline_at"] or tx.now + step["accept_within"]
        if chosen:
            responder, distance = chosen[0]
            self.open_task(
                tx,
                incident,
                responder,
                distance,
                deadline,
                actor=change.actor,
                causation_id=change.causation_id,
            )
            return
        others = [
            task
            for task in repository.tasks_of(tx.connection, incident["id"])
            if task["state"] in OPEN_TASK_STATES
        ]
        if not others:
            self._advance(
                tx,
                incident,
                incident["step_index"] + 1,
                actor=change.actor,
                causation_id=change.causation_id,
                reason=f"declined by {change.row['responder_id']}, nobody else free",
            )

    # Responders -------------------------------------------------------------------------------

    def pick(
        self, tx: Tx, incident: Row, owner: Jurisdiction, count: int, department_only: bool
    ) -> list[tuple[Row, float]]:
        """The `count` nearest free responders of `owner` with every skill the category needs."""
        category = self.config.category_by_id[incident["category"]]
        needed = set(category.skills)
        # Who is on it or said no is not asked again; who merely let a deadline pass may be.
        asked = {
            task["responder_id"]
            for task in repository.tasks_of(tx.connection, incident["id"])
            if task["state"] in OPEN_TASK_STATES or task["state"] == TaskState.DECLINED
        }
        lat, lon = incident["lat"], incident["lon"]
        if lat is None or lon is None:
            lat, lon = owner.center.lat, owner.center.lon
        scored: list[tuple[float, str, Row]] = []
        for responder in repository.available_responders(tx.connection, owner.id):
            if responder["id"] in asked or not needed.issubset(responder["skills"]):
                continue
            if department_only and responder["department_id"] != category.department:
                continue
            scored.append(
                (distance_m(lat, lon, responder["lat"], responder["lon"]), responder["id"], responder)
            )
        scored.sort(key=lambda item: (item[0], item[1]))
        return [(responder, distance) for distance, _, responder in scored[:count]]

    def open_task(
        self,
        tx: Tx,
        incident: Row,
        responder: Row,
        distance: float | None,
        deadline: float | None,
        *,
        actor: str,
        causation_id: str | None,
    ) -> int:
        task_id = tx.ids.next("task")
        tier = self.config.jurisdiction_by_id[responder["jurisdiction_id"]].tier
        rounded = round(distance, 1) if distance is not None else None
        tx.connection.execute(
            _insert_task,
            {
                "id": task_id,
                "incident_id": incident["id"],
                "responder_id": responder["id"],
                "state": TaskState.PENDING.value,
                "tier": tier.value,
                "step_index": incident["step_index"],
                "distance_m": rounded,
                "accept_deadline_at": deadline,
                "delivered_via": None,
                "milestones": {TaskState.PENDING.value: tx.now},
                "created_at": tx.now,
                "updated_at": tx.now,
            },
        )
        tx.record(
            TaskAssigned(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident["id"],
                task_id=task_id,
                responder_id=responder["id"],
                tier=tier.value,
                step_index=incident["step_index"],
                distance_m=rounded,
                accept_deadline_at=deadline,
                category=incident["category"],
                severity=incident["severity"],
                lat=incident["lat"],
                lon=incident["lon"],
                title=incident["title"],
            )
        )
        responder_status.change(
            tx,
            responder["id"],
            "busy",
            actor=actor,
            causation_id=causation_id,
            incident_id=incident["id"],
            task_id=task_id,
            current=responder["status"],
        )
        return task_id

    def assign_by_hand(self, change: Change, responder: Row) -> None:
        tx, incident = change.tx, change.row
        steps = incident["policy"]["steps"]
        accept_within = steps[incident["step_index"]]["accept_within"] if steps else DEFAULT_MANUAL_ACCEPT_S
        deadline = tx.now + accept_within
        if incident["lat"] is not None and incident["lon"] is not None:
            distance: float | None = distance_m(
                incident["lat"], incident["lon"], responder["lat"], responder["lon"]
            )
        else:
            distance = None
        if incident["step_deadline_at"] is None:
            repository.set_step_deadline(tx, incident, deadline)
        self.open_task(
            tx, incident, responder, distance, deadline, actor=change.actor, causation_id=change.causation_id
        )
