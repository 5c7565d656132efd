"""Escalation, orchestrated: runs the lifecycle machines and acts on what they say must follow.

An incident carries a snapshot of its policy (STYLE 12). Step i names the tier that owns the
incident and how long that tier's responders have to accept. When nobody qualified is free,
or nobody accepts in time, the next step starts at once and the owner moves up a tier. This
is the one place that decides it: intake starts the first step, the machines return their
follow-ups (a step to open, a responder to assign, a declined task to replace, an incident
to move on), and the deadline scheduler reports a step's time is up.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from dispatch.config.model import Config, Jurisdiction, Tier
from dispatch.core.assignment import Assigner
from dispatch.core.change import (
    AssignResponder,
    FollowUp,
    IncidentShould,
    OpenStepForTier,
    ReplaceDeclined,
)
from dispatch.core.incidents import IncidentLifecycle
from dispatch.core.tasks import TaskLifecycle
from dispatch.events.catalog import IncidentUnanswered
from dispatch.storage import repository
from dispatch.storage.records import Incident, PolicyStep, Task
from dispatch.storage.tables import incident_table
from dispatch.storage.writer import Tx
from state_machines import (
    INCIDENT,
    NEW_INCIDENT_STATES,
    OPEN_INCIDENT_STATES,
    OPEN_TASK_STATES,
    UNANSWERED_TASK_STATES,
    IncidentTrigger,
    TaskState,
    TaskTrigger,
)

DEADLINE_ACTOR = "system:deadline"
IN_HAND_TASK_STATES = OPEN_TASK_STATES | {TaskState.DONE}
"""A step's time passing climbs nothing while some task is accepted, or was and is done."""


class Escalation:
    """The orchestrator: every incident or task trigger goes through here, then its follow-ups."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tasks = TaskLifecycle()
        self.incidents = IncidentLifecycle(config, self.tasks)
        self.assigner = Assigner(config)

    # Triggers ---------------------------------------------------------------------------------

    def trigger_incident(
        self,
        tx: Tx,
        row: Incident,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> bool:
        """Apply `trigger` and what follows it; False when it was a harmless repeat."""
        fired = self.incidents.fire(
            tx, row, trigger, actor=actor, causation_id=causation_id, reason=reason, params=params
        )
        self._follow(tx, fired.follow_ups, actor=actor, causation_id=causation_id)
        return fired.changed

    def trigger_task(
        self,
        tx: Tx,
        row: Task,
        trigger: str,
        *,
        actor: str,
        causation_id: str | None = None,
        note: str | None = None,
        channel: str | None = None,
    ) -> bool:
        """Apply a task trigger and what follows it; False when it was a harmless repeat."""
        fired = self.tasks.fire(
            tx, row, trigger, actor=actor, causation_id=causation_id, note=note, channel=channel
        )
        self._follow(tx, fired.follow_ups, actor=actor, causation_id=causation_id)
        return fired.changed

    def _follow(self, tx: Tx, follow_ups: list[FollowUp], *, actor: str, causation_id: str | None) -> None:
        for follow_up in follow_ups:
            match follow_up:
                case OpenStepForTier(incident, tier):
                    self._open_step_for_tier(tx, incident, tier, actor=actor, causation_id=causation_id)
                case AssignResponder(incident, responder):
                    self.assigner.assign_by_hand(
                        tx, incident, responder, actor=actor, causation_id=causation_id
                    )
                case ReplaceDeclined(task):
                    self._replace_declined(tx, task, actor=actor, causation_id=causation_id)
                case IncidentShould(incident_id, trigger):
                    incident = repository.incident(tx.connection, incident_id)
                    if trigger in INCIDENT.triggers_from(incident.state):
                        self.trigger_incident(tx, incident, trigger, actor=actor, causation_id=causation_id)

    # Steps ------------------------------------------------------------------------------------

    def start(self, tx: Tx, incident: Incident, *, actor: str, causation_id: str | None) -> bool:
        """Open the first step that applies to the incident's location."""
        return self._advance(
            tx, incident, 0, actor=actor, causation_id=causation_id, reason=None, opened=True
        )

    def _advance(
        self,
        tx: Tx,
        incident: Incident,
        first_step: int,
        *,
        actor: str,
        causation_id: str | None,
        reason: str | None,
        opened: bool = False,
    ) -> bool:
        """Try steps from `first_step` on until one finds responders; True when one did.

        `opened`: the incident was just opened, so it has no tasks yet to read.
        """
        steps = incident.policy.steps
        location_tier = self.config.jurisdiction_by_id[incident.jurisdiction_id].tier
        tasks: list[Task] | None = [] if opened else None
        for index in range(first_step, len(steps)):
            step = steps[index]
            tier = step.tier
            if tier.depth > location_tier.depth:
                continue  # the location is known only to a higher tier: no such node to ask
            owner = self.config.ancestor_at(incident.jurisdiction_id, tier)
            if owner.id != incident.owner_jurisdiction_id:
                # Its follow-up (open the new owner's step) is this very step, opened below.
                self.incidents.fire(
                    tx,
                    incident,
                    IncidentTrigger.ESCALATE,
                    actor=actor,
                    causation_id=causation_id,
                    reason=reason,
                    params={"to": owner.id},
                )
            # Written with the step's deadline (repository.set_step_deadline), which every way
            # out of this search stores: one UPDATE however many steps find nobody.
            incident.step_index = index
            if self._open_step(
                tx, incident, step, owner, actor=actor, causation_id=causation_id, tasks=tasks
            ):
                return True
            reason = f"no qualified responder free at {owner.id}"
        repository.set_step_deadline(tx, incident, None)
        tx.record(
            IncidentUnanswered(
                occurred_at=tx.now,
                actor=actor,
                causation_id=causation_id,
                incident_id=incident.id,
                owner_jurisdiction_id=incident.owner_jurisdiction_id,
                step_index=incident.step_index,
            )
        )
        return False

    def _open_step(
        self,
        tx: Tx,
        incident: Incident,
        step: PolicyStep,
        owner: Jurisdiction,
        *,
        actor: str,
        causation_id: str | None,
        tasks: list[Task] | None = None,
    ) -> bool:
        chosen = self.assigner.pick(tx, incident, owner, step.responders, step.department_only, tasks)
        if not chosen:
            return False
        if incident.state in NEW_INCIDENT_STATES:
            self.trigger_incident(
                tx, incident, IncidentTrigger.DISPATCH, actor=actor, causation_id=causation_id
            )
        deadline = tx.now + step.accept_within
        repository.set_step_deadline(tx, incident, deadline)
        for responder, distance in chosen:
            self.assigner.open_task(
                tx, incident, responder, distance, deadline, actor=actor, causation_id=causation_id
            )
        return True

    def _open_step_for_tier(
        self, tx: Tx, incident: Incident, tier: Tier, *, actor: str, causation_id: str | None
    ) -> None:
        """After a manual escalate or delegate: the new owner's own step begins now.

        Unlike a deadline, a dispatcher's move is not undone at once when the new owner has
        nobody free: the step's clock runs, and only when it passes does the policy climb.
        """
        index = incident.policy.step_for(tier)
        self._expire_unanswered(tx, incident, actor=actor, causation_id=causation_id)
        if index is None:
            repository.set_step_deadline(tx, incident, None)
            return
        step = incident.policy.steps[index]
        owner = self.config.jurisdiction_by_id[incident.owner_jurisdiction_id]
        repository.update(tx.connection, incident_table, incident, step_index=index)
        if not self._open_step(tx, incident, step, owner, actor=actor, causation_id=causation_id):
            repository.set_step_deadline(tx, incident, tx.now + step.accept_within)

    def _expire_unanswered(
        self, tx: Tx, incident: Incident, *, actor: str, causation_id: str | None
    ) -> list[Task]:
        tasks = repository.tasks_of(tx.connection, incident.id)
        for task in tasks:
            if task.state in UNANSWERED_TASK_STATES:
                self.trigger_task(tx, task, TaskTrigger.EXPIRE, actor=actor, causation_id=causation_id)
        return tasks

    def _replace_declined(self, tx: Tx, declined: Task, *, actor: str, causation_id: str | None) -> None:
        """A responder said no: ask the next nearest at the same step, or climb at once."""
        incident = repository.incident(tx.connection, declined.incident_id)
        if incident.state not in OPEN_INCIDENT_STATES:
            return
        step = incident.step
        owner = self.config.jurisdiction_by_id[incident.owner_jurisdiction_id]
        chosen = self.assigner.pick(tx, incident, owner, 1, step.department_only)
        deadline = incident.step_deadline_at or tx.now + step.accept_within
        if chosen:
            responder, distance = chosen[0]
            self.assigner.open_task(
                tx, incident, responder, distance, deadline, actor=actor, causation_id=causation_id
            )
            return
        tasks = repository.tasks_of(tx.connection, incident.id)
        if not any(task.state in OPEN_TASK_STATES for task in tasks):
            self._advance(
                tx,
                incident,
                incident.step_index + 1,
                actor=actor,
                causation_id=causation_id,
                reason=f"declined by {declined.responder_id}, nobody else free",
            )

    # Deadlines --------------------------------------------------------------------------------

    def deadline_passed(self, tx: Tx, incident: Incident, *, causation_id: str) -> None:
        """The step's time is up: expire what was not answered; climb if nobody accepted."""
        repository.set_step_deadline(tx, incident, None)
        tasks = self._expire_unanswered(tx, incident, actor=DEADLINE_ACTOR, causation_id=causation_id)
        if any(task.state in IN_HAND_TASK_STATES for task in tasks):
            return  # someone accepted (and may have finished already): the incident is in hand
        step = incident.step
        self._advance(
            tx,
            incident,
            incident.step_index + 1,
            actor=DEADLINE_ACTOR,
            causation_id=causation_id,
            reason=f"not accepted within {step.accept_within:g}s",
        )

    def fire_due_deadlines(self, tx: Tx, limit: int = 200) -> tuple[int, float | None]:
        """Fire every step deadline, and every department task's acceptance deadline, that has
        passed; returns how many, and the next one."""
        due = (
            tx.connection.execute(
                sa.select(incident_table.c.id)
                .where(incident_table.c.step_deadline_at <= tx.now)
                .order_by(incident_table.c.step_deadline_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for incident_id in due:

            def fire(tx: Tx, incident_id: int = incident_id) -> None:
                row = repository.incident(tx.connection, incident_id)
                self.deadline_passed(tx, row, causation_id=f"deadline:incident:{incident_id}")

            ok, _ = tx.isolated(fire)
            if not ok:  # never retry a deadline that breaks forever; a dispatcher must look
                repository.clear_step_deadline(tx.connection, incident_id)
        following = tx.connection.execute(sa.select(sa.func.min(incident_table.c.step_deadline_at))).scalar()
        escalated, department_following = self.incidents.department_tasks.fire_due(tx, limit)
        nexts = [each for each in (following, department_following) if each is not None]
        return len(due) + escalated, min(nexts) if nexts else None
