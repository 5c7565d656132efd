"""MQTT payloads: what sensors, tablets and Frigate publish, translated; tasks rendered.

Pure: no connection here (gateways/mqtt_link.py holds the loop); the topics are
gateways/mqtt_topics.py's. What each topic carries, with the default prefix:

- `dispatch/sensors/{gateway}/alerts`: one alert or `{"alerts": [...]}`, the JSON of
  `POST /api/v1/alerts`.
- `dispatch/responders/{id}/acks`: `{"task_id": 7, "trigger": "accept"}` (`note` and a request
  `id` optional); `deliver` is a receipt.
- `dispatch/responders/{id}/location`: `{"lat": 28.8, "lon": 112.3}`.
- `dispatch/responders/{id}/tasks` (we publish): the same event objects as the WebSocket's
  `event` frames, and `result` objects answering acks.
- `frigate/events`, `frigate/reviews`: as Frigate publishes them (gateways/frigate.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from dispatch.intake.alerts import AlertIn, refuse_nul
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import DispatchError
from dispatch.shared.geo import Position
from state_machines import TaskTrigger

TASK_TRIGGERS = frozenset(TaskTrigger)
"""The words an ack may carry; which of them a responder may send, dispatch/access/authz.py decides."""


class RejectReason(StrEnum):
    """Why an MQTT message was refused: the label of its counter."""

    UNKNOWN_TOPIC = "unknown_topic"
    MALFORMED_JSON = "malformed_json"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNKNOWN_RESPONDER = "unknown_responder"
    FORBIDDEN_SOURCE = "forbidden_source"
    """A sensor gateway's alert for a source it does not speak for (mqtt.sensor_gateway_sources)."""
    REFUSED = "refused"
    """Understood, and refused by the dispatch service (a task not the sender's, a wrong state)."""


class Rejected(Exception):
    """A message that cannot be used; counted and logged by the loop, never retried."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Ack(BaseModel):
    """A tablet's acknowledgement or other task trigger, from its acks topic."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    task_id: int = Field(ge=1, lt=1 << 63, description="The task, as in its task_assigned event.")
    trigger: str = Field(description="deliver, accept, decline, depart, arrive or complete.")
    note: str | None = Field(None, max_length=2000, description="Free text, e.g. why declined.")
    id: str | None = Field(None, max_length=128, description="The device's request id, echoed in the result.")


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    @property
    def position(self) -> Position:
        return Position(lat=self.lat, lon=self.lon)


_alert = TypeAdapter(AlertIn)
_ack = TypeAdapter(Ack)
_location = TypeAdapter(Location)


def read_json(payload: bytes) -> Any:
    """The payload as JSON, or Rejected (never an exception of a library)."""
    if not payload:
        raise Rejected(RejectReason.MALFORMED_JSON, "empty payload; send JSON")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise Rejected(RejectReason.MALFORMED_JSON, f"payload is not valid JSON: {err}") from err
    if b"\\u0000" in payload:
        try:
            refuse_nul(data)
        except DispatchError as err:
            raise Rejected(RejectReason.INVALID, err.message) from err
    return data


def describe(err: ValidationError, prefix: str = "") -> str:
    """The first problem, as `field: message` (the same words the HTTP API uses)."""
    first = err.errors()[0]
    field = prefix + ".".join(str(part) for part in first["loc"])
    message = "this field is required" if first["type"] == "missing" else first["msg"]
    message = message.removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def translate_alerts(payload: bytes, max_batch: int) -> list[tuple[AlertIn, str]]:
    """A sensor gateway's message: each alert with its verbatim JSON. All or none."""
    data = read_json(payload)
    batch = isinstance(data, dict) and "alerts" in data
    if batch:
        extra = sorted(set(data) - {"alerts"})
        if extra:
            raise Rejected(RejectReason.INVALID, f"unexpected field {extra[0]!r}")
        items = data["alerts"]
        if not isinstance(items, list) or not items:
            raise Rejected(RejectReason.INVALID, "alerts must be a list of at least one alert")
        if len(items) > max_batch:
            raise Rejected(RejectReason.TOO_LARGE, f"at most {max_batch} alerts per message")
    elif isinstance(data, dict):
        items = [data]
    else:
        raise Rejected(RejectReason.INVALID, 'send one alert object or {"alerts": [...]}')
    alerts: list[tuple[AlertIn, str]] = []
    for index, item in enumerate(items):
        try:
            alert = _alert.validate_python(item)
        except ValidationError as err:
            raise Rejected(RejectReason.INVALID, describe(err, f"alerts.{index}." if batch else "")) from err
        alerts.append((alert, orjson.dumps(item).decode()))
    return alerts


def translate_ack(payload: bytes) -> Ack:
    data = read_json(payload)
    try:
        ack = _ack.validate_python(data)
    except ValidationError as err:
        raise Rejected(RejectReason.INVALID, describe(err)) from err
    if ack.trigger not in TASK_TRIGGERS:
        allowed = ", ".join(sorted(TASK_TRIGGERS))
        raise Rejected(RejectReason.INVALID, f"trigger: {ack.trigger!r} is not one of {allowed}")
    return ack


def translate_location(payload: bytes) -> Location:
    try:
        return _location.validate_python(read_json(payload))
    except ValidationError as err:
        raise Rejected(RejectReason.INVALID, describe(err)) from err


def task_message(body: dict[str, Any]) -> bytes:
    """What a responder's tasks topic carries for one event (the WebSocket's `event` frame)."""
    return orjson.dumps({"type": "event", "seq": body["seq"], "event": body})


def department_task_message(body: dict[str, Any]) -> bytes:
    """What a department's tasks topic carries for one department task event: the event (as the
    WebSocket's `event` frame has it), and beside it the task and its incident, readable alone."""
    payload = body["payload"]
    task = {
        "id": payload["department_task_id"],
        "department_id": payload["department_id"],
        "state": payload["to_state"],
        "reason": payload["reason"],
        "accept_by": to_rfc3339(payload["accept_by"]),
    }
    place = {"jurisdiction": payload["jurisdiction_id"], "lat": payload["lat"], "lon": payload["lon"]}
    return orjson.dumps(
        {
            "type": "department_task",
            "seq": body["seq"],
            "event": body,
            "task": task,
            "incident_id": body["incident_id"],
            "category": payload["category"],
            "severity": payload["severity"],
            "place": place,
            "title": payload["title"],
        }
    )


def result_message(ack: Ack, outcome: dict[str, Any]) -> bytes:
    """The answer to an ack, on the same tasks topic (the WebSocket's `result` frame)."""
    return orjson.dumps({"type": "result", "id": ack.id, "task_id": ack.task_id, **outcome})
