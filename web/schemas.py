"""The wire shapes of the handlers' own responses, for the OpenAPI document and the handlers.

What the read queries return is typed once, in dispatch/storage/wire.py; the shapes here are
either the handlers' own JSON or those shapes with what a handler adds (the caller's triggers,
who is online). tests/web/test_schemas.py validates real responses against them, unknown keys
refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from dispatch.storage.wire import FORBID, EventOut, IncidentFile, IncidentOut, TaskOut, Unit


class Wire(BaseModel):
    """A response shape: every key is always present (null when unknown) and none is extra."""

    model_config = ConfigDict(extra="forbid")


# Responses ------------------------------------------------------------------------------------


@with_config(FORBID)
class IncidentDetail(IncidentFile):
    """An incident with its tasks, alerts and timeline."""

    triggers: Annotated[list[str], Field(description="The dispatcher's triggers its state allows now.")]


@with_config(FORBID)
class IncidentChanged(IncidentOut):
    """The incident after a trigger."""

    changed: Annotated[bool, Field(description="False when the trigger was a harmless repeat.")]
    triggers: Annotated[list[str], Field(description="The triggers the caller may send next.")]


@with_config(FORBID)
class TaskChanged(TaskOut):
    """The task after a trigger."""

    changed: Annotated[bool, Field(description="False when the trigger was a harmless repeat.")]
    triggers: Annotated[list[str], Field(description="The triggers the caller may send next.")]


@with_config(FORBID)
class EventList(TypedDict):
    events: Annotated[list[EventOut], Field(description="In sequence order.")]
    last_seq: Annotated[
        int, Field(description="Send it as `after` to read on; `after` itself when nothing is new.")
    ]


@with_config(FORBID)
class ResponderOut(Unit):
    online: Annotated[
        bool,
        Field(
            description=(
                "A tablet of the responder is connected to the WebSocket now, or sent an ack or a "
                "position over MQTT in the last 2 minutes."
            )
        ),
    ]


@with_config(FORBID)
class ResponderList(TypedDict):
    responders: list[ResponderOut]


class Received(Wire):
    """An alert's receipt, sent only once the alert is committed."""

    alert_id: int
    incident_id: int = Field(description="The incident the alert opened or joined.")
    duplicate: bool = Field(description="The same (source, source_event_id) was received before.")


class AlertResults(Wire):
    """A batch's receipts, in the order of the batch."""

    results: list[Received]


class ErrorDetail(Wire):
    code: str = Field(description="Stable machine-readable code: invalid, not_found, illegal_transition …")
    message: str = Field(description="What is wrong, for a person.")
    field: str | None = Field(description="The field at fault, as a dotted path.")
    state: str | None = Field(None, description="illegal_transition: the current state.")
    allowed: list[str] | None = Field(None, description="illegal_transition: the triggers allowed now.")


class ErrorBody(Wire):
    """Every 4xx (and 503) answer."""

    error: ErrorDetail


class Health(Wire):
    status: Literal["ok"]


class MqttStatus(Wire):
    """The MQTT link; a broker outage never makes the server unready (HTTP carries on)."""

    connected: bool = Field(description="Connected and subscribed to the broker now.")
    broker: str = Field(description="host:port of the broker.")
    sessions: dict[str, bool] = Field(
        description="Each session's client id (sensors, then tablets) and whether it is connected."
    )
    received: dict[str, int] = Field(description="Messages taken, by topic kind.")
    rejected: dict[str, int] = Field(description="Messages refused, by reason (each also logged).")
    failed: int = Field(description="Messages whose handling broke: left for the broker to offer again.")
    published: int = Field(description="Task messages the broker acknowledged.")
    outbox: int = Field(description="Task messages waiting for the broker.")
    outbox_dropped: int = Field(description="Task messages dropped from a full outbox (oldest first).")


class WebStatus(Wire):
    body_timed_out: int = Field(
        description="Requests answered 408: the body came slower than `web.body_timeout`."
    )
    abandoned: int = Field(description="Requests whose client hung up while sending the body.")


class Ready(Wire):
    status: Literal["ready"]
    database: Literal["ok"] = Field(description="The database answered just now.")
    next_deadline_at: float | None = Field(
        description="Epoch seconds of the next deadline the scheduler awaits."
    )
    mqtt: MqttStatus | None = Field(description="The MQTT link; null when MQTT is off (no `mqtt.url`).")
    web: WebStatus = Field(description="Slow and abandoned HTTP requests since start.")
