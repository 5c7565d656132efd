"""What happens in a scenario, and when: sensor readings, Frigate messages and hotline calls.

Times (`at`) are scenario seconds from the start at rate 1; the runner maps them onto its clock.
A happening holds everything its sender will say except the wall-clock dates, which are
filled in when it is sent (devices.py, gateways.py), so a script is pure data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dispatch.simulate.places import Point


class Origin(StrEnum):
    """Which generator of the scenario made it: every one appears in a full script."""

    GAUGE = "gauge"
    WATERLOGGING = "waterlogging"
    SMOKE = "smoke"
    GAS = "gas"
    CAMERA = "camera"
    CAMERA_NOISE = "camera_noise"
    HOTLINE = "hotline"
    LEVEE = "levee"
    FOCUS = "focus"


@dataclass(frozen=True)
class SensorReading:
    """One alarm of a device (gauge, waterlogging sensor, smoke or gas detector)."""

    at: float
    origin: Origin
    source: str
    sequence: int
    category: str
    severity: int
    point: Point
    title: str
    description: str
    attributes: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Tracked:
    """A Frigate tracked object's state as one message carries it (`before` or `after`)."""

    score: float
    top_score: float
    current_zones: tuple[str, ...]
    entered_zones: tuple[str, ...]
    has_snapshot: bool
    has_clip: bool
    stationary: bool
    ended_at: float | None
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class FrigateMessage:
    """One `frigate/events` message: a tracked object's `new`, `update` or `end`."""

    at: float
    origin: Origin
    camera: str
    label: str
    object_key: str
    """Frigate's random id suffix; the id is `{start epoch}-{object_key}`."""
    started_at: float
    type: str
    before: Tracked
    """For `new`, the same as `after`, as Frigate sends it."""
    after: Tracked


@dataclass(frozen=True)
class HotlineCall:
    """A call-taker's entry for one caller; callers of one event share `event`."""

    at: float
    origin: Origin
    serial: int
    event: int
    line: str
    caller_number: str
    caller_name: str
    category: str
    point: Point
    address: str
    statement: str


Happening = SensorReading | FrigateMessage | HotlineCall
