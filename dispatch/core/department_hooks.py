"""Departments' webhooks: a department's duty desk is told of its department tasks (协办) in JSON,
through the outbox.

A writer observer: each department task event (sent, accepted, declined, completed, escalated,
cancelled) of a department with a `webhook` queues one message in the transaction that recorded
the event, so it is sent once that commits and never lost (dispatch/core/outbound.py). The
department's gateway (an SMS or voice bridge an operator plugs in) deduplicates by
`identifier`; the body names the duty contacts to ring (config.yaml `duty_contacts`).
"""

from __future__ import annotations

import functools
import logging

import orjson

from dispatch.config.link import department_destination
from dispatch.config.model import Config
from dispatch.core.outbound import enqueue, new_message_id
from dispatch.events.catalog import DepartmentTaskChanged, DomainEvent
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.transaction import Tx

logger = logging.getLogger(__name__)

KIND = "department_task"
CONTENT_TYPE = "application/json"
SAID = {
    "department_task_sent": "协办任务已派至",
    "department_task_accepted": "协办任务已接收：",
    "department_task_declined": "协办任务已拒绝：",
    "department_task_completed": "协办任务已完成：",
    "department_task_escalated": "协办任务超时未接收，已上报市指挥中心：",
    "department_task_cancelled": "协办任务已撤销：",
}
"""The timeline's words for a message to a desk, by the event that caused it."""


class DepartmentHooks:
    """The writer observer of a server whose departments have webhooks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hooked = {department.id for department in config.departments if department.webhook is not None}

    def observe(self, tx: Tx, events: list[DomainEvent]) -> None:
        for event in events:
            if isinstance(event, DepartmentTaskChanged) and event.department_id in self.hooked:
                ok, _ = tx.isolated(functools.partial(self._tell, changed=event))
                if not ok:
                    logger.error("could not queue department %s's webhook message", event.department_id)

    def _tell(self, tx: Tx, changed: DepartmentTaskChanged) -> None:
        department = self.config.department_by_id[changed.department_id]
        category = self.config.category_by_id.get(changed.category)
        place = self.config.jurisdiction_by_id.get(changed.jurisdiction_id)
        message_id = new_message_id(tx)
        identifier = f"{self.config.root.id}.department.{message_id}"
        body = {
            "identifier": identifier,
            "event": changed.type,
            "incident_id": changed.incident_id,
            "department_task": {
                "id": changed.department_task_id,
                "state": changed.to_state,
                "reason": changed.reason,
                "accept_by": to_rfc3339(changed.accept_by),
            },
            "department": {"id": department.id, "name": department.name},
            "duty_contacts": [{"name": each.name, "phone": each.phone} for each in department.duty_contacts],
            "category": {"id": changed.category, "name": category.name if category else changed.category},
            "severity": changed.severity,
            "place": {
                "jurisdiction_id": changed.jurisdiction_id,
                "name": place.name if place is not None else changed.jurisdiction_id,
                "lat": changed.lat,
                "lon": changed.lon,
            },
            "title": changed.title,
            "at": to_rfc3339(changed.occurred_at),
        }
        enqueue(
            tx,
            destination=department_destination(department.id),
            kind=KIND,
            identifier=identifier,
            path="",
            content_type=CONTENT_TYPE,
            body=orjson.dumps(body).decode(),
            incident_id=changed.incident_id,
            summary=f"{SAID.get(changed.type, '协办任务：')}{department.name}",
            message_id=message_id,
        )
