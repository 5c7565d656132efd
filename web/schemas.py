"""The wire shapes of the handlers' own responses: what a handler builds and OpenAPI documents.

What the read queries return is typed once, in dispatch/storage/wire.py; the shapes here are
either the handlers' own JSON or those shapes with what a handler adds (the caller's triggers,
who is online). Each is a typed dict the handler builds (mypy refuses a missing or extra key)
and the OpenAPI document describes, so the two cannot drift. tests/web/test_schemas.py
validates real responses against them, unknown keys refused.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.intake import pipeline
from dispatch.storage.wire import FORBID, EventOut, IncidentFile, IncidentOut, TaskOut, Unit
from dispatch.views.instructions import CountyLinkOut, InstructionOut
from gateways.mqtt_status import MqttStatus
from web.slow_clients import WebStatus

# Responses ------------------------------------------------------------------------------------


@with_config(FORBID)
class IncidentDetail(IncidentFile):
    """An incident with its tasks, alerts and timeline."""

    triggers: Annotated[list[str], Field(description="The dispatcher's triggers its state allows now.")]
    county_link: Annotated[
        CountyLinkOut | None,
        Field(description="At the prefecture: the county incident it came from (null: not from a county)."),
    ]
    instructions: Annotated[
        list[InstructionOut],
        Field(description="The prefecture link's instructions on it (sent here, or received here)."),
    ]


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


@with_config(FORBID)
class Received(TypedDict):
    """An alert's receipt, sent only once the alert is committed."""

    alert_id: int
    incident_id: Annotated[int, Field(description="The incident the alert opened or joined.")]
    duplicate: Annotated[bool, Field(description="The same (source, source_event_id) was received before.")]


def receipt(received: pipeline.Received) -> Received:
    """The intake's receipt on the wire: every alert route answers with these keys first."""
    return {
        "alert_id": received.alert_id,
        "incident_id": received.incident_id,
        "duplicate": received.duplicate,
    }


@with_config(FORBID)
class AlertResults(TypedDict):
    """A batch's receipts, in the order of the batch."""

    results: list[Received]


@with_config(FORBID)
class Health(TypedDict):
    status: Literal["ok"]


@with_config(FORBID)
class Ready(TypedDict):
    status: Literal["ready"]
    database: Annotated[Literal["ok"], Field(description="The database answered just now.")]
    next_deadline_at: Annotated[
        float | None, Field(description="Epoch seconds of the next deadline the scheduler awaits.")
    ]
    mqtt: Annotated[
        MqttStatus | None, Field(description="The MQTT link; null when MQTT is off (no `mqtt.url`).")
    ]
    web: Annotated[WebStatus, Field(description="Slow and abandoned HTTP requests since start.")]
