"""The door department tasks (协办) are worked through: authorized, then run in the writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.access import authz
from dispatch.access.authz import DEPARTMENT_TASK_TRIGGERS
from dispatch.access.principal import Principal
from dispatch.config.model import Config
from dispatch.core.escalation import Escalation
from dispatch.shared.errors import IllegalTransition
from dispatch.storage import department_tasks, repository
from dispatch.storage.records import DepartmentTask
from dispatch.storage.writer import Tx, Writer
from state_machines import DEPARTMENT_TASK


@dataclass(frozen=True)
class DepartmentTaskOutcome:
    """The department task after a trigger, whether it changed, and the triggers the caller may send now."""

    record: DepartmentTask
    changed: bool
    triggers: list[str]

    @property
    def row(self) -> dict[str, Any]:
        return self.record.as_row()


class DepartmentTaskDoor:
    """Part of the dispatch service (dispatch/service.py): every transport calls this, and only
    this decides who may accept, decline or complete a department task."""

    config: Config
    writer: Writer
    escalation: Escalation

    @staticmethod
    def check_department_task_trigger(principal: Principal, trigger: str) -> None:
        """May this caller send `trigger` to a department task at all? Needs no rows."""
        authz.check_department_task_trigger(principal, trigger)

    async def trigger_department_task(
        self,
        task_id: int,
        trigger: str,
        principal: Principal,
        *,
        reason: str | None = None,
        causation_id: str | None = None,
    ) -> DepartmentTaskOutcome:
        authz.check_department_task_trigger(principal, trigger)
        lifecycle = self.escalation.incidents.department_tasks

        def command(tx: Tx) -> DepartmentTaskOutcome:
            row = department_tasks.department_task(tx.connection, task_id)
            incident = repository.incident(tx.connection, row.incident_id)
            place = (incident.jurisdiction_id, incident.owner_jurisdiction_id)
            authz.check_department_task(principal, self.config, task_id, row.department_id, place)
            changed = lifecycle.fire(
                tx, row, incident, trigger, actor=principal.actor, causation_id=causation_id, reason=reason
            )
            allowed = [
                each for each in DEPARTMENT_TASK.triggers_from(row.state) if each in DEPARTMENT_TASK_TRIGGERS
            ]
            return DepartmentTaskOutcome(row, changed, allowed)

        try:
            return await self.writer.submit(command)
        except IllegalTransition as err:
            raise err.only(DEPARTMENT_TASK_TRIGGERS) from None
