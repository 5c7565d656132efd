"""Departments' webhooks: a department pulled into an incident is told in JSON, through the outbox.

A writer observer: the message is queued in the transaction that added the department, so it
is sent once that commits and never lost (dispatch/core/outbound.py). The department's
gateway (an SMS or voice bridge an operator plugs in) deduplicates by `identifier`.
"""

from __future__ import annotations

import functools
import logging

import orjson

from dispatch.config.link import department_destination
from dispatch.config.model import Config
from dispatch.core.outbound import enqueue, new_message_id
from dispatch.events.catalog import DomainEvent, IncidentDepartmentAdded
from dispatch.shared.clock import to_rfc3339
from dispatch.storage import repository
from dispatch.storage.transaction import Tx

logger = logging.getLogger(__name__)

KIND = "department_added"
CONTENT_TYPE = "application/json"


class DepartmentHooks:
    """The writer observer of a server whose departments have webhooks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hooked = {department.id for department in config.departments if department.webhook is not None}

    def observe(self, tx: Tx, events: list[DomainEvent]) -> None:
        for event in events:
            if (
                isinstance(event, IncidentDepartmentAdded)
                and event.department in self.hooked
                and event.incident_id is not None
            ):
                ok, _ = tx.isolated(functools.partial(self._tell, added=event))
                if not ok:
                    logger.error("could not queue department %s's webhook message", event.department)

    def _tell(self, tx: Tx, added: IncidentDepartmentAdded) -> None:
        assert added.incident_id is not None
        incident = repository.incident(tx.connection, added.incident_id)
        department = self.config.department_by_id[added.department]
        category = self.config.category_by_id.get(incident.category)
        place = self.config.jurisdiction_by_id.get(incident.jurisdiction_id)
        message_id = new_message_id(tx)
        identifier = f"{self.config.root.id}.department.{message_id}"
        body = {
            "identifier": identifier,
            "incident_id": incident.id,
            "department": {"id": department.id, "name": department.name},
            "category": {"id": incident.category, "name": category.name if category else incident.category},
            "severity": incident.severity,
            "place": {
                "jurisdiction_id": incident.jurisdiction_id,
                "name": place.name if place is not None else incident.jurisdiction_id,
                "lat": incident.lat,
                "lon": incident.lon,
            },
            "title": incident.title,
            "at": to_rfc3339(added.occurred_at),
        }
        enqueue(
            tx,
            destination=department_destination(department.id),
            kind=KIND,
            identifier=identifier,
            path="",
            content_type=CONTENT_TYPE,
            body=orjson.dumps(body).decode(),
            incident_id=incident.id,
            summary=f"通知协办部门 {department.name}",
            message_id=message_id,
        )
