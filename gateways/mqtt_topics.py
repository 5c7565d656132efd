"""The MQTT topic scheme: every topic the server, tablets, sensor gateways and Frigate use.

With the default prefix `dispatch`:

- `dispatch/sensors/{gateway}/alerts`: a sensor gateway's alerts (it publishes, we read).
- `dispatch/responders/{id}/acks` and `…/location`: a tablet's acks and positions (we read).
- `dispatch/responders/{id}/tasks`: a tablet's task events and ack results (we publish).
- `dispatch/departments/{id}/tasks`: a department duty desk's department tasks (协办) (we publish).
- `{frigate_prefix}/events` and `…/reviews`: Frigate's messages, under its own prefix.

The link subscribes and parses with these, and the broker's ACL (gateways/mqtt_acl.py) grants
them, so the two never disagree about a topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateways.mqtt import Rejected, RejectReason

ANY = "+"
"""MQTT's single-level wildcard: every gateway or responder at that level."""


class TopicKind(StrEnum):
    SENSOR_ALERTS = "sensor_alerts"
    ACKS = "acks"
    LOCATION = "location"
    FRIGATE_EVENTS = "frigate_events"
    FRIGATE_REVIEWS = "frigate_reviews"


@dataclass(frozen=True)
class Topic:
    kind: TopicKind
    owner: str
    """The sensor gateway or responder id of the topic; empty for Frigate's."""


@dataclass(frozen=True)
class Topics:
    prefix: str
    frigate_prefix: str | None

    def sensor_alerts(self, gateway: str = ANY) -> str:
        return f"{self.prefix}/sensors/{gateway}/alerts"

    def tasks(self, responder_id: str = ANY) -> str:
        return f"{self.prefix}/responders/{responder_id}/tasks"

    def department_tasks(self, department_id: str = ANY) -> str:
        return f"{self.prefix}/departments/{department_id}/tasks"

    def acks(self, responder_id: str = ANY) -> str:
        return f"{self.prefix}/responders/{responder_id}/acks"

    def location(self, responder_id: str = ANY) -> str:
        return f"{self.prefix}/responders/{responder_id}/location"

    def frigate(self) -> list[str]:
        """Frigate's events and reviews; none when Frigate is not read over MQTT."""
        if self.frigate_prefix is None:
            return []
        return [f"{self.frigate_prefix}/events", f"{self.frigate_prefix}/reviews"]

    def frigate_all(self) -> str | None:
        """Everything under Frigate's prefix (it also publishes snapshots, states, `…/set`)."""
        return None if self.frigate_prefix is None else f"{self.frigate_prefix}/#"

    def intake_filters(self) -> list[str]:
        """What sensors and Frigate publish (the server's sensors session, QoS 1)."""
        return [self.sensor_alerts(), *self.frigate()]

    def device_filters(self) -> list[str]:
        """What tablets publish (the server's tablets session, QoS 1)."""
        return [self.acks(), self.location()]

    def subscriptions(self) -> list[str]:
        """Every filter the server subscribes to."""
        return [*self.intake_filters(), *self.device_filters()]

    def parse(self, topic: str) -> Topic:
        if self.frigate_prefix is not None:
            if topic == f"{self.frigate_prefix}/events":
                return Topic(TopicKind.FRIGATE_EVENTS, "")
            if topic == f"{self.frigate_prefix}/reviews":
                return Topic(TopicKind.FRIGATE_REVIEWS, "")
        head = self.prefix + "/"
        if topic.startswith(head):
            levels = topic[len(head) :].split("/")
            if len(levels) == 3 and levels[1]:
                section, owner, leaf = levels
                if section == "sensors" and leaf == "alerts":
                    return Topic(TopicKind.SENSOR_ALERTS, owner)
                if section == "responders" and leaf == "acks":
                    return Topic(TopicKind.ACKS, owner)
                if section == "responders" and leaf == "location":
                    return Topic(TopicKind.LOCATION, owner)
        raise Rejected(RejectReason.UNKNOWN_TOPIC, f"{topic}: not a topic the server reads")
