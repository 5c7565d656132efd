"""The JSON frames an event goes out in: the WebSocket's `event` and `alarm`, and the body MQTT reuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from dispatch.events.base import DomainEvent
from dispatch.shared.clock import to_rfc3339


def event_frame(event: DomainEvent) -> str:
    return orjson.dumps({"type": "event", "seq": event.seq, "event": event_body(event)}).decode()


def stored_event_frame(event: Mapping[str, object]) -> str:
    return orjson.dumps({"type": "event", "seq": event["seq"], "event": event}).decode()


def event_body(event: DomainEvent) -> dict[str, Any]:
    """The same shape as GET /api/v1/events returns."""
    return {
        "seq": event.seq,
        "type": event.type,
        "occurred_at": to_rfc3339(event.occurred_at),
        "actor": event.actor,
        "causation_id": event.causation_id,
        "incident_id": event.incident_id,
        "task_id": event.task_id,
        "payload": event.payload(),
    }


def alarm_frame(event: DomainEvent, kind: str) -> str:
    return orjson.dumps(
        {
            "type": "alarm",
            "kind": kind,
            "seq": event.seq,
            "incident_id": event.incident_id,
            "event": event_body(event),
        }
    ).decode()
