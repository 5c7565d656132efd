"""Responders: the units on duty that tasks go to."""

from __future__ import annotations

from pydantic import Field

from dispatch.config.values import Identifier
from dispatch.shared.geo import Position, Strict


class Responder(Strict):
    """A unit on duty: a grid worker, a patrol, a crew."""

    id: Identifier = Field(description="Stable ASCII id.")
    name: str = Field(description="Display name.")
    jurisdiction: Identifier = Field(description="The node the unit belongs to.")
    department: Identifier | None = Field(None, description="Department, if any.")
    skills: list[Identifier] = Field(default_factory=list, description="What the unit can do.")
    home: Position = Field(description="Where the unit is when no position was reported.")
    mqtt_client_id: str | None = Field(None, description="MQTT client id of its device.")
