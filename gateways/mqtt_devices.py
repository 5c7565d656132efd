"""What MQTT devices may do here: sensors post alerts, tablets answer tasks and report positions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError

from dispatch.access.auth import Principal, Role
from dispatch.access.speaks_for import Binding
from dispatch.core.presence import Positions
from dispatch.intake.alerts import AlertIn
from dispatch.ops.metrics import arriving_on
from dispatch.service import DispatchService
from dispatch.shared.clock import Clock
from dispatch.shared.errors import DispatchError
from dispatch.storage import queries
from gateways import frigate
from gateways.frigate_video import VideoIntake
from gateways.mqtt import Ack, Location, Rejected, RejectReason, describe

T = TypeVar("T")
Reader = Callable[[Callable[[sa.Connection], T]], Awaitable[T]]

FRIGATE_ACTOR = "gateway:mqtt-frigate"
SEEN_WITHIN_S = 120.0
"""An MQTT tablet counts as online this long after its last ack or position (MQTT tells the
server nothing of the tablet's own connection)."""
_frigate_event = TypeAdapter(frigate.FrigateEvent)
_frigate_review = TypeAdapter(frigate.FrigateReview)


class DeviceDesk:
    """The DevicePort of gateways/mqtt_port.py (what gateways/mqtt_link.py asks), over the service."""

    def __init__(
        self,
        service: DispatchService,
        video: VideoIntake,
        positions: Positions,
        clock: Clock,
        read: Reader[Any],
        task_pushed: Callable[[int, str], None],
    ) -> None:
        self.service = service
        self.video = video
        self.positions = positions
        self.clock = clock
        self._read = read
        self._task_pushed = task_pushed
        self.max_batch = service.config.intake.max_batch
        self._seen: dict[str, float] = {}

    def knows_responder(self, responder_id: str) -> bool:
        return responder_id in self.service.config.responder_by_id

    async def receive_alerts(self, gateway: str, alerts: list[tuple[AlertIn, str]]) -> None:
        patterns = self.service.config.mqtt.sensor_gateway_sources.get(gateway)
        if patterns is not None:
            binding = Binding(sources=tuple(patterns))
            for alert, _ in alerts:
                if not binding.allows_source(alert.source):
                    raise Rejected(
                        RejectReason.FORBIDDEN_SOURCE,
                        f"sensor gateway {gateway!r} does not speak for source {alert.source!r} "
                        f"(mqtt.sensor_gateway_sources: {', '.join(patterns) or 'none'}); nothing stored",
                    )
        with arriving_on("mqtt"):
            await self.service.submit_alerts(alerts, batch=len(alerts) > 1, actor=f"gateway:mqtt:{gateway}")

    def seen_lately(self) -> set[str]:
        """Units whose tablet sent an ack or a position over MQTT within SEEN_WITHIN_S."""
        since = self.clock.now() - SEEN_WITHIN_S
        return {unit for unit, at in self._seen.items() if at >= since}

    async def task_trigger(self, responder_id: str, ack: Ack) -> dict[str, Any]:
        self._seen[responder_id] = self.clock.now()
        principal = Principal(Role.RESPONDER, responder_id, responder_id=responder_id)
        try:
            outcome = await self.service.trigger_task(
                ack.task_id, ack.trigger, principal, note=ack.note, channel="mqtt", causation_id=ack.id
            )
        except DispatchError as err:
            return {"ok": False, "error": err.body()}
        return {"ok": True, "changed": outcome.changed, "task": queries.task_json(outcome.row)}

    def report_position(self, responder_id: str, location: Location) -> None:
        self._seen[responder_id] = self.clock.now()
        self.positions.report(responder_id, location.lat, location.lon, self.clock.now())

    async def frigate_event(self, data: Any) -> None:
        event = _validated(_frigate_event, data, "event")
        with arriving_on("mqtt_frigate"):
            await self.video.take_event(event, data, actor=FRIGATE_ACTOR, now=self.clock.now())

    async def frigate_review(self, data: Any) -> None:
        review = _validated(_frigate_review, data, "review")
        with arriving_on("mqtt_frigate"):
            await self.video.take_review(review, data, actor=FRIGATE_ACTOR, now=self.clock.now())

    async def unanswered_tasks(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = await self._read(queries.unanswered_assignments)
        return bodies

    def task_published(self, task_id: int) -> None:
        self._task_pushed(task_id, "mqtt")


def _validated(adapter: TypeAdapter[T], data: Any, what: str) -> T:
    if not isinstance(data, dict):
        raise Rejected(RejectReason.INVALID, f"send one Frigate {what} object")
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        raise Rejected(RejectReason.INVALID, describe(err)) from err
