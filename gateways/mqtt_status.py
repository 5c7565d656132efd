"""The MQTT link's state and counters, as `GET /readyz` shows and documents them."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict


@with_config(ConfigDict(extra="forbid"))
class MqttStatus(TypedDict):
    """The MQTT link; a broker outage never makes the server unready (HTTP carries on)."""

    connected: Annotated[bool, Field(description="Connected and subscribed to the broker now.")]
    broker: Annotated[str, Field(description="host:port of the broker.")]
    sessions: Annotated[
        dict[str, bool],
        Field(description="Each session's client id (sensors, then tablets) and whether it is connected."),
    ]
    received: Annotated[dict[str, int], Field(description="Messages taken, by topic kind.")]
    rejected: Annotated[dict[str, int], Field(description="Messages refused, by reason (each also logged).")]
    failed: Annotated[
        int, Field(description="Messages whose handling broke: left for the broker to offer again.")
    ]
    published: Annotated[int, Field(description="Task messages the broker acknowledged.")]
    outbox: Annotated[int, Field(description="Task messages waiting for the broker.")]
    outbox_dropped: Annotated[
        int, Field(description="Task messages dropped from a full outbox (oldest first).")
    ]
