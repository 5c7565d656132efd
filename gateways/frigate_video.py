"""Video intake: Frigate messages, from HTTP or MQTT, turned into alerts, their updates and endings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.pipeline import Received
from dispatch.service import DispatchService
from gateways import frigate
from gateways.frigate_flood import FrigateGateway

END_REASON = "the tracked object left the camera's view (Frigate end)"
REVIEW_END_REASON = "the camera's activity is over (Frigate review end)"


@dataclass(frozen=True)
class VideoOutcome:
    """What one Frigate message did: ignored (and why), or the alert received, updated, ended."""

    ignored: str | None = None
    received: Received | None = None
    updated: bool = False
    """A later message changed something a dispatcher cares about: the alert was rewritten."""
    resolved: bool = False


class VideoIntake:
    """One per process: the Frigate cooldown and memory are shared by every channel that feeds it."""

    def __init__(self, service: DispatchService) -> None:
        self.service = service
        self.gateway = FrigateGateway.create(service.config)

    async def take_event(
        self,
        event: frigate.FrigateEvent,
        raw: Any,
        *,
        actor: str,
        now: float,
        causation_id: str | None = None,
    ) -> VideoOutcome:
        """A `frigate/events` message: a tracked object's alert; `end` resolves it."""
        result = self.gateway.take(event, now)
        ending = END_REASON if event.type == frigate.FrigateEventType.END else None
        return await self._take(result, raw, ending, actor=actor, causation_id=causation_id)

    async def take_review(
        self,
        review: frigate.FrigateReview,
        raw: Any,
        *,
        actor: str,
        now: float,
        causation_id: str | None = None,
    ) -> VideoOutcome:
        """A `frigate/reviews` message: a review item graded `alert` is one; `end` resolves it."""
        result = self.gateway.take_review(review, now)
        ending = REVIEW_END_REASON if review.type == frigate.FrigateEventType.END else None
        return await self._take(result, raw, ending, actor=actor, causation_id=causation_id)

    async def _take(
        self,
        result: AlertIn | frigate.Ignored,
        raw: Any,
        ending: str | None,
        *,
        actor: str,
        causation_id: str | None,
    ) -> VideoOutcome:
        if isinstance(result, frigate.Ignored):
            return VideoOutcome(ignored=result.reason.value)
        alert = result
        [received] = await self.service.submit_alerts(
            [(alert, orjson.dumps(raw).decode())], batch=False, actor=actor, causation_id=causation_id
        )
        updated = False
        if not received.duplicate:
            self.gateway.passed_on.remember(alert.source, alert.source_event_id, alert.attributes)
        elif self.gateway.changes(alert) != {}:  # something new, or not known here: the row judges
            update = await self.service.update_alert(
                alert.source,
                alert.source_event_id,
                alert.attributes,
                self.gateway.judge(alert),
                actor=actor,
                causation_id=causation_id,
                kind=AlertKind.VIDEO,
            )
            if update is not None:
                self.gateway.passed_on.remember(alert.source, alert.source_event_id, update.attributes)
                updated = bool(update.changes)
        resolved = False
        if ending is not None:
            change = await self.service.resolve_alert(
                alert.source,
                alert.source_event_id,
                actor=actor,
                reason=ending,
                causation_id=causation_id,
                kind=AlertKind.VIDEO,
            )
            resolved = change is not None
        return VideoOutcome(received=received, updated=updated, resolved=resolved)
