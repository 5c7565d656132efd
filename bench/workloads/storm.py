"""The S3 storm: a sensor population over the city and the timed messages a storm makes of it.

Sensors stand at sites (a building, a pump station, an embankment section): SENSORS_PER_SITE
sensors of one category within SITE_RADIUS_M of the site's point, sites at random street points.
An *alarm* is a sensor starting to fire: distinct sensors, `burst_alarms` of them evenly over the
first `burst_seconds`, the rest evenly over the remaining time up to `seconds`. Of the alarms,
`repeat_share` are sent again unchanged later (Alertmanager resending a firing alert: the same
fingerprint@startsAt, a duplicate at intake) and `flap_share` (other sensors) flap: resolved, then
firing anew (a new startsAt: a new alert that must join the incident again), `flap_toggles` times.
Hotline call-takers enter `calls_per_minute` calls, evenly spaced: CALLS_ABOUT_SITES of them about
a site that has alarmed by then, the rest about a new place anywhere in the city.

Sensor alerts arrive as Alertmanager's webhook sends them (`POST /api/v1/alerts/alertmanager`,
one alert per notification, receiver RECEIVER); calls as call-takers' entries (`POST
/api/v1/hotline/calls`). The plan is a pure function of the config, the shape and the seed; the
bodies are made when sent, with the wall clock's times.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.workloads.city import City

ALERTMANAGER_PATH = "/api/v1/alerts/alertmanager"
HOTLINE_PATH = "/api/v1/hotline/calls"
RECEIVER = "s3-sensors"
SENSORS_PER_SITE = 4
SITE_RADIUS_M = 80.0
CALL_RADIUS_M = 100.0
CALLS_ABOUT_SITES = 0.8
# category → Alertmanager's alertname for it (the `category` label names ours as well).
SENSOR_ALERTS = {
    "water_level_warning": "WaterLevelAboveWarning",
    "waterlogging": "WaterloggingDetected",
    "embankment_seepage": "EmbankmentSeepage",
    "smoke": "SmokeDetected",
    "gas_leak": "GasConcentrationHigh",
    "manhole_cover_missing": "ManholeCoverOpen",
}
ZERO_TIME = "0001-01-01T00:00:00Z"

ALARM, REPEAT, RESOLVE, REFIRE, CALL = "alarm", "repeat", "resolve", "refire", "call"
KINDS = (ALARM, REPEAT, RESOLVE, REFIRE, CALL)


@dataclass(frozen=True)
class Shape:
    """How big the storm is and how it unfolds in time (seconds from its start)."""

    sensors: int = 10_000
    alarms: int = 6_250
    burst_alarms: int = 5_000
    burst_seconds: float = 10.0
    seconds: float = 300.0
    repeat_share: float = 0.20
    flap_share: float = 0.05
    flap_toggles: int = 2
    calls_per_minute: float = 50.0

    def scaled(self, factor: float) -> Shape:
        """The same storm with counts and times × factor (rates kept): `--quick` is 0.2."""
        return Shape(
            sensors=round(self.sensors * factor),
            alarms=round(self.alarms * factor),
            burst_alarms=round(self.burst_alarms * factor),
            burst_seconds=self.burst_seconds * factor,
            seconds=self.seconds * factor,
            repeat_share=self.repeat_share,
            flap_share=self.flap_share,
            flap_toggles=self.flap_toggles,
            calls_per_minute=self.calls_per_minute,
        )


@dataclass(frozen=True)
class Sensor:
    id: str
    site: int
    category: str
    lat: float
    lon: float
    fingerprint: str


@dataclass(frozen=True)
class Call:
    category: str
    lat: float
    lon: float
    site: int | None
    """The alarmed site it is about; None: a new place."""


@dataclass(frozen=True, order=True)
class Message:
    """One thing to send at `at` s: `target` is a sensor's index, or a call's for CALL."""

    at: float
    order: int
    kind: str
    target: int


class Plan:
    """The sensors, the calls and every message of one storm, in the order they are due."""

    def __init__(self, config_path: Path, shape: Shape, seed: int) -> None:
        self.shape = shape
        self.rng = random.Random(seed)
        self.city = City(config_path, self.rng)
        known = {category.id for category in self.city.config.categories}
        self.categories = [category for category in SENSOR_ALERTS if category in known]
        self.sensors = self._place_sensors()
        self.alarm_at: dict[int, float] = {}
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self._plan_alarms()
        self._plan_calls()
        self.messages.sort()

    def _place_sensors(self) -> list[Sensor]:
        sensors: list[Sensor] = []
        sites = -(-self.shape.sensors // SENSORS_PER_SITE)
        for site in range(sites):
            lat, lon = self.city.street_point()
            category = self.rng.choice(self.categories)
            for _ in range(min(SENSORS_PER_SITE, self.shape.sensors - len(sensors))):
                at = self.city.jitter(lat, lon, SITE_RADIUS_M)
                number = len(sensors)
                sensor_id = f"s3-sensor-{number:05d}"
                fingerprint = hashlib.sha1(sensor_id.encode()).hexdigest()[:16]
                sensors.append(Sensor(sensor_id, site, category, at["lat"], at["lon"], fingerprint))
        return sensors

    def _add(self, at: float, kind: str, target: int) -> None:
        self.messages.append(Message(round(at, 4), len(self.messages), kind, target))

    def _plan_alarms(self) -> None:
        shape, rng = self.shape, self.rng
        chosen = rng.sample(range(len(self.sensors)), shape.alarms)
        tail = shape.alarms - shape.burst_alarms
        for index, sensor in enumerate(chosen):
            if index < shape.burst_alarms:
                at = index * shape.burst_seconds / shape.burst_alarms
            else:
                at = shape.burst_seconds + (index - shape.burst_alarms) * (
                    (shape.seconds - shape.burst_seconds) / tail
                )
            self.alarm_at[sensor] = at
            self._add(at, ALARM, sensor)
        others = rng.sample(chosen, round(shape.alarms * (shape.repeat_share + shape.flap_share)))
        repeats = others[: round(shape.alarms * shape.repeat_share)]
        flaps = others[len(repeats) :]
        for sensor in repeats:
            # Alertmanager resends a firing group after its group_interval: 1-7 % of the storm's time.
            self._add(self.alarm_at[sensor] + rng.uniform(0.01, 0.07) * shape.seconds, REPEAT, sensor)
        for sensor in flaps:
            at = self.alarm_at[sensor]
            for _ in range(shape.flap_toggles):
                at += rng.uniform(0.003, 0.017) * shape.seconds
                self._add(at, RESOLVE, sensor)
                at += rng.uniform(0.003, 0.017) * shape.seconds
                self._add(at, REFIRE, sensor)

    def _plan_calls(self) -> None:
        shape, rng = self.shape, self.rng
        count = round(shape.calls_per_minute * shape.seconds / 60)
        by_time = sorted((at, sensor) for sensor, at in self.alarm_at.items())
        for number in range(count):
            at = number * 60 / shape.calls_per_minute
            alarmed = [sensor for when, sensor in by_time if when <= at]
            if alarmed and rng.random() < CALLS_ABOUT_SITES:
                sensor = self.sensors[rng.choice(alarmed)]
                point = self.city.jitter(sensor.lat, sensor.lon, CALL_RADIUS_M)
                call = Call(sensor.category, point["lat"], point["lon"], sensor.site)
            else:
                lat, lon = self.city.street_point()
                call = Call(rng.choice(self.categories), round(lat, 6), round(lon, 6), None)
            self.calls.append(call)
            self._add(at, CALL, number)

    def counts(self) -> dict[str, int]:
        """Messages of each kind."""
        return {kind: sum(1 for message in self.messages if message.kind == kind) for kind in KINDS}

    def last_alarm_at(self) -> float:
        return max(self.alarm_at.values())

    def last_message_at(self) -> float:
        return self.messages[-1].at


def _now() -> str:
    """RFC 3339 with microseconds, as the server writes a startsAt into the alert's key."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Bodies:
    """The wire bodies of a plan's messages, made when sent; remembers each sensor's firing start."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tag = uuid.uuid4().hex[:8]
        self.starts: dict[int, str] = {}

    def key(self, message: Message) -> tuple[str, str]:
        """The (source, source_event_id) the message fires or resolves (after `body` made it)."""
        if message.kind == CALL:
            return "hotline", self.call_id(message.target)
        sensor = self.plan.sensors[message.target]
        return RECEIVER, f"{sensor.fingerprint}@{self.starts[message.target]}"

    def call_id(self, number: int) -> str:
        return f"s3-{self.tag}-call-{number}"

    def body(self, message: Message) -> tuple[str, bytes]:
        """(the path to POST to, the body) of one message, now."""
        if message.kind == CALL:
            return HOTLINE_PATH, orjson.dumps(self._call(message.target))
        if message.kind in (ALARM, REFIRE):
            self.starts[message.target] = _now()
        status = "resolved" if message.kind == RESOLVE else "firing"
        return ALERTMANAGER_PATH, orjson.dumps(self._notification(message.target, status))

    def _notification(self, index: int, status: str) -> dict[str, Any]:
        sensor = self.plan.sensors[index]
        labels = {
            "alertname": SENSOR_ALERTS[sensor.category],
            "category": sensor.category,
            "severity": "warning",
            "sensor": sensor.id,
            "site": f"site-{sensor.site}",
            "lat": f"{sensor.lat:.6f}",
            "lon": f"{sensor.lon:.6f}",
        }
        annotations = {"summary": f"{SENSOR_ALERTS[sensor.category]} at {sensor.id}"}
        alert = {
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": self.starts[index],
            "endsAt": _now() if status == "resolved" else ZERO_TIME,
            "generatorURL": f"http://prometheus.local/graph?g0.expr=alarm%7Bsensor%3D%22{sensor.id}%22%7D",
            "fingerprint": sensor.fingerprint,
        }
        return {
            "version": "4",
            "groupKey": f'{{}}:{{sensor="{sensor.id}"}}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": RECEIVER,
            "groupLabels": {"sensor": sensor.id},
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": "http://alertmanager.local:9093",
            "alerts": [alert],
        }

    def _call(self, number: int) -> dict[str, Any]:
        call = self.plan.calls[number]
        rng = random.Random(number)
        return {
            "type": "entry",
            "call_id": self.call_id(number),
            "caller_number": f"139{rng.randrange(10**8):08d}",
            "line": "12345",
            "location": {"lat": call.lat, "lon": call.lon},
            "category": call.category,
            "statement": "暴雨中市民来电：现场情况紧急，请尽快派人核实处置。",
            "received_at": _now(),
        }
