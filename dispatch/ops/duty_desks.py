"""Telling departments' duty desks of their department tasks (协办), beyond consoles and MQTT.

The consoles hear of department tasks over the WebSocket (dispatch/hub.py) and the desks' own
systems over MQTT (gateways/mqtt_link.py). This is the third channel's one hook: `tell` is
called once for each department task event, on the loop, after the transaction that recorded
it committed. It only logs the duty contacts to ring today; the per-department outbound webhook
(SMS and voice gateways an operator plugs in), with its durable outbox and receipts, goes here.
"""

from __future__ import annotations

import logging

from dispatch.config.model import Config
from dispatch.events.catalog import DepartmentTaskChanged

logger = logging.getLogger(__name__)


class DutyDesks:
    """Bus subscriber for `DepartmentTaskChanged`: one call per committed department task event."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.told = 0

    def tell(self, event: DepartmentTaskChanged) -> None:
        department = self.config.department_by_id.get(event.department_id)
        contacts = (
            ", ".join(f"{each.name} {each.phone}" for each in department.duty_contacts) if department else ""
        )
        self.told += 1
        logger.info(
            "%s: department %s, task %s of incident %s (duty desk: %s)",
            event.type,
            event.department_id,
            event.department_task_id,
            event.incident_id,
            contacts or "no duty contacts in config.yaml",
        )
