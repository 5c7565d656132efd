"""What the MQTT link may ask of the dispatch service: gateways/mqtt_devices.py implements it."""

from __future__ import annotations

from typing import Any, Protocol

from dispatch.intake.alerts import AlertIn
from gateways.mqtt import Ack, Location


class DevicePort(Protocol):
    """What the link may ask of the dispatch service (gateways/mqtt_devices.py implements it)."""

    max_batch: int

    def knows_responder(self, responder_id: str) -> bool: ...

    async def receive_alerts(self, gateway: str, alerts: list[tuple[AlertIn, str]]) -> None:
        """Returns once committed; raises DispatchError for alerts intake refuses."""

    async def task_trigger(self, responder_id: str, ack: Ack) -> dict[str, Any]:
        """The outcome as the WebSocket's `result` carries it (`ok`, then `task` or `error`)."""

    def report_position(self, responder_id: str, location: Location) -> None: ...

    async def frigate_event(self, data: Any) -> None:
        """A `frigate/events` message; raises Rejected if it is not one."""

    async def frigate_review(self, data: Any) -> None:
        """A `frigate/reviews` message; raises Rejected if it is not one."""

    async def unanswered_tasks(self) -> list[dict[str, Any]]:
        """The task_assigned event bodies of tasks not yet accepted or declined."""

    def task_published(self, task_id: int) -> None:
        """The broker took the task's assignment: the task counts as sent."""
