"""What a simulated device posts: a sensor reading as an alert, over HTTP or on its MQTT topic."""

from __future__ import annotations

from typing import Any

from dispatch.shared.clock import to_rfc3339
from dispatch.simulate.happenings import SensorReading
from gateways.mqtt_topics import Topics

DEFAULT_GATEWAY = "simulator"
"""The sensor gateway the readings come through on MQTT (its own topic, its own account)."""


def sensor_alert(reading: SensorReading, observed_at: float) -> dict[str, Any]:
    """The alert JSON of `POST /api/v1/alerts` (and of the sensors' MQTT topic).

    The key is the reading's time and number: a new one per reading, never the same on two
    runs, so a second run against the same database is not taken for a repeat of the first.
    """
    observed = to_rfc3339(observed_at)
    return {
        "source": reading.source,
        "source_event_id": f"{observed}#{reading.sequence}",
        "kind": "sensor",
        "category": reading.category,
        "severity": reading.severity,
        "location": {"lat": reading.point.lat, "lon": reading.point.lon},
        "observed_at": observed,
        "title": reading.title,
        "description": reading.description,
        "attributes": reading.attributes,
    }


def sensor_topic(prefix: str, gateway: str) -> str:
    return Topics(prefix, None).sensor_alerts(gateway)
