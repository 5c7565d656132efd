"""Video intake: Frigate messages, from HTTP or MQTT, turned into alerts and their endings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dispatch.intake import Received
from dispatch.service import DispatchService
from gateways import frigate

END_REASON = "the tracked object left the camera's view (Frigate end)"


@dataclass(frozen=True)
class VideoOutcome:
    """What one Frigate message did: ignored (and why), or the alert received and if it ended."""

    ignored: str | None = None
    received: Received | None = None
    resolved: bool = False


class VideoIntake:
    """One per process: the Frigate cooldown is shared by every channel that feeds it."""

    def __init__(self, service: DispatchService) -> None:
        self.service = service
        self.gateway = frigate.FrigateGateway.create(service.config)

    async def take_event(
        self,
        event: frigate.FrigateEvent,
        raw: Any,
        *,
        actor: str,
        now: float,
        causation_id: str | None = None,
    ) -> VideoOutcome:
        result = self.gateway.take(event, now)
        if isinstance(result, frigate.Ignored):
            return VideoOutcome(ignored=result.reason.value)
        self.service.check_alerts([result], False)
        [received] = await self.service.receive_alerts(
            [(result, orjson.dumps(raw).decode())], actor=actor, causation_id=causation_id
        )
        resolved = False
        if event.type == frigate.FrigateEventType.END:
            change = await self.service.resolve_alert(
                result.source,
                result.source_event_id,
                actor=actor,
                reason=END_REASON,
                causation_id=causation_id,
            )
            resolved = change is not None
        return VideoOutcome(received=received, resolved=resolved)
