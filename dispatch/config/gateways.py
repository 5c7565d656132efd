"""Configuration of the gateways: MQTT, Frigate, CAP 1.2 and Alertmanager sections of config.yaml."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from dispatch.config.values import Identifier, Seconds, Severity
from dispatch.shared.geo import Position, Strict

FrigateName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$", max_length=64)]
"""A camera or zone name as written in Frigate's own config."""


class FrigatePlace(Strict):
    """Where a camera (or one of its zones) looks: a point, a jurisdiction, or both."""

    location: Position | None = Field(None, description="The watched spot (not the camera's mast).")
    jurisdiction: Identifier | None = Field(None, description="Jurisdiction id, when no point is known.")

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.location is None and self.jurisdiction is None:
            raise ValueError("give a location or a jurisdiction")
        return self


class FrigateCamera(FrigatePlace):
    zones: dict[FrigateName, FrigatePlace] = Field(
        default_factory=dict, description="Zones with a place of their own; others use the camera's."
    )


class FrigateRule(Strict):
    """A tracked object's label (optionally in given zones) that becomes an alert category."""

    label: str = Field(min_length=1, max_length=64, description="Frigate label: person, fire, car …")
    category: Identifier = Field(description="The category its alerts get.")
    zones: list[FrigateName] = Field(
        default_factory=list, description="Only in one of these zones (current or entered); none: anywhere."
    )
    cameras: list[FrigateName] = Field(default_factory=list, description="Only these cameras; none: all.")
    min_score: float | None = Field(None, ge=0, le=1, description="Overrides `frigate.min_score`.")
    severity: Severity | None = Field(None, description="Overrides the category's default.")


class Frigate(Strict):
    """Frigate NVR: cameras placed on the map, labels turned into categories, floods held back."""

    min_score: float = Field(0.7, ge=0, le=1, description="Ignore objects whose top score is lower.")
    cooldown: Seconds = Field(
        300.0, description="After an alert, other objects of one camera/zone/label are ignored this long."
    )
    cameras: dict[FrigateName, FrigateCamera] = Field(default_factory=dict, description="By Frigate name.")
    rules: list[FrigateRule] = Field(default_factory=list, description="First matching rule wins.")


class CapGateway(Strict):
    """CAP 1.2 warnings (`POST /api/v1/alerts/cap`): how their events and areas become ours."""

    categories: dict[str, Identifier] = Field(
        default_factory=dict,
        description=(
            "A CAP `event` (compared without regard to case) or CAP `category` code (Met, Geo, "
            "Fire, Safety, …) → a category id; the event is looked up first, then each category."
        ),
    )
    default_category: Identifier | None = Field(
        None, description="The category when nothing in `categories` matches; none: the message is refused."
    )
    geocodes: dict[str, Identifier] = Field(
        default_factory=dict,
        description=(
            "An area `geocode` written `valueName:value` (e.g. `GB2260:430981`) → jurisdiction id; "
            "it places a message that has no polygon or circle."
        ),
    )
    default_jurisdiction: Identifier | None = Field(
        None,
        description=(
            "Where a message with no usable polygon, circle or geocode lands (e.g. the city); "
            "none: such a message is refused."
        ),
    )


def _default_alertmanager_severities() -> dict[str, Severity]:
    return {"critical": Severity.II, "warning": Severity.III, "info": Severity.IV}


class AlertmanagerGateway(Strict):
    """Prometheus Alertmanager webhooks (`POST /api/v1/alerts/alertmanager`, version 4)."""

    categories: dict[str, Identifier] = Field(
        default_factory=dict,
        description=(
            "alertname → category id. A `category` label naming a category of this file wins; "
            "then this mapping; then `default_category`."
        ),
    )
    default_category: Identifier | None = Field(
        None, description="The category when neither label nor mapping gives one; none: refused."
    )
    severities: dict[str, Severity] = Field(
        default_factory=_default_alertmanager_severities,
        description=(
            "Value of the `severity` label → 1 (I) … 4 (IV); other values take the category's default."
        ),
    )
    default_jurisdiction: Identifier | None = Field(
        None,
        description=(
            "Where an alert with neither `lat`/`lon` nor a `jurisdiction` label lands (e.g. the "
            "city); none: such an alert is refused."
        ),
    )


MqttTopicPrefix = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$", max_length=128)]
"""Topic levels without wildcards, leading or trailing slash."""


_BROKER_URL = re.compile(r"^mqtts?://([^:/?#@\s]+@)?[^:/?#@\s]+(:\d{1,5})?$")


class Mqtt(Strict):
    """The MQTT link (gateways/mqtt_link.py). Off unless `url` (or `serve --mqtt`) names a broker."""

    url: str | None = Field(
        None,
        description=(
            "Broker as mqtt://[user@]host[:port] (mqtts:// for TLS); none: MQTT is off and "
            "sensors and tablets use HTTP and the WebSocket. The password comes from the "
            "environment (DISPATCH_MQTT_PASSWORD), never from this file."
        ),
    )
    client_id: str = Field(
        "dispatch-server",
        min_length=1,
        max_length=64,
        description=(
            "The server's MQTT client id. Its session is persistent: alerts published while the "
            "server was down wait at the broker. Two servers must not share it."
        ),
    )
    username: Identifier = Field(
        "dispatch", description="The server's account (`mqtt-acl`; the url may name another)."
    )
    prefix: MqttTopicPrefix = Field("dispatch", description="First levels of our topics.")
    frigate_prefix: MqttTopicPrefix | None = Field(
        "frigate",
        description="Frigate's `mqtt.topic_prefix`: `{it}/events` and `{it}/reviews` are read; none: off.",
    )
    frigate_username: Identifier = Field("frigate", description="Frigate's account in `mqtt-acl`.")
    sensor_gateways: list[Identifier] = Field(
        default_factory=list,
        description=(
            "Sensor gateways given an account by `mqtt-acl`, each allowed to publish only on "
            "`{prefix}/sensors/{id}/alerts`. The server reads every gateway's topic; the broker's "
            "ACL decides who may write."
        ),
    )
    sensor_gateway_sources: dict[Identifier, list[Annotated[str, Field(min_length=1, max_length=128)]]] = (
        Field(
            default_factory=dict,
            description=(
                "The alert sources each sensor gateway speaks for, as glob patterns (`gw-west: "
                "['gauge-*']`, like `token issue --source`). An alert on its topic for any other "
                "source is rejected, logged and counted (`forbidden_source`); a gateway not listed "
                "speaks for any source."
            ),
        )
    )
    keepalive: int = Field(30, ge=5, le=3600, description="Seconds between MQTT pings.")
    reconnect_min: Seconds = Field(0.5, description="First wait before reconnecting after an outage.")
    reconnect_max: Seconds = Field(30.0, description="Longest wait between reconnect attempts.")

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is not None and not _BROKER_URL.match(value):
            raise ValueError(f"{value!r} is not a broker: use mqtt://[user@]host[:port] or mqtts://…")
        return value

    max_inflight: int = Field(
        200, ge=1, le=65535, description="Tasks published and not yet acknowledged by the broker, at most."
    )
