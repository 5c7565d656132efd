"""Frigate NVR: its `frigate/events` messages translated into alerts, and floods held back.

Frigate publishes one message per change of a tracked object (`new`, many `update`s, `end`),
each with the object's state `before` and `after`. One tracked object is one alert: its
Frigate id is the alert's `source_event_id`, so every update of it is a duplicate at intake.
Distinct objects of one camera, zone and label (a crowd, a flock of boats, a flickering
flame) would still open one alert each; `Cooldown` holds those back for `frigate.cooldown`
after an alert, in memory, owned by whoever feeds the intake (the HTTP route, an MQTT loop).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatch.alerts import AlertIn, AlertKind
from dispatch.config import Config, FrigatePlace, FrigateRule

LATEST_EPOCH = 32_503_680_000.0  # year 3000: a later timestamp is a broken clock, not a date


class FrigateEventType(StrEnum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


class FrigateObject(BaseModel):
    """A tracked object as Frigate describes it (fields Frigate adds later are kept, unread)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=200, description="Frigate's id of the tracked object.")
    camera: str = Field(min_length=1, max_length=64, description="Camera name in Frigate's config.")
    label: str = Field(min_length=1, max_length=64, description="person, car, fire, smoke, boat …")
    sub_label: Any = Field(None, description="A recognized name, or [name, score].")
    score: float | None = Field(None, ge=0, le=1, description="Score of the current frame.")
    top_score: float | None = Field(None, ge=0, le=1, description="Best score so far.")
    false_positive: bool = Field(False, description="Frigate's own verdict: not (yet) a real object.")
    start_time: float = Field(ge=0, le=LATEST_EPOCH, description="When the object appeared (epoch s).")
    end_time: float | None = Field(None, ge=0, le=LATEST_EPOCH, description="When it left (epoch s).")
    current_zones: list[str] = Field(default_factory=list, description="Zones it is in now.")
    entered_zones: list[str] = Field(default_factory=list, description="Zones it has entered.")
    has_snapshot: bool = Field(False, description="A snapshot can be fetched from Frigate.")
    has_clip: bool = Field(False, description="A clip can be fetched from Frigate.")
    stationary: bool = Field(False, description="It has stopped moving.")


class FrigateEvent(BaseModel):
    """One `frigate/events` message, exactly as Frigate publishes it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: FrigateEventType = Field(description="new, update or end.")
    before: FrigateObject | None = Field(None, description="The object before this change.")
    after: FrigateObject = Field(description="The object after this change: what is translated.")


class IgnoredReason(StrEnum):
    FALSE_POSITIVE = "false_positive"
    UNMAPPED_CAMERA = "unmapped_camera"
    UNMAPPED_LABEL = "unmapped_label"
    BELOW_MIN_SCORE = "below_min_score"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Ignored:
    reason: IgnoredReason


@dataclass(frozen=True)
class Matched:
    """An object a rule turned into an alert, with the cooldown key it counts against."""

    alert: AlertIn
    cooldown_key: tuple[str, str, str]
    """(camera, zone, label); zone is empty for a rule without zones."""


def interpret(event: FrigateEvent, config: Config, now: float) -> Matched | Ignored:
    """The alert one message stands for, or why it stands for none. Pure."""
    found = event.after
    if found.false_positive:
        return Ignored(IgnoredReason.FALSE_POSITIVE)
    camera = config.frigate.cameras.get(found.camera)
    if camera is None:
        return Ignored(IgnoredReason.UNMAPPED_CAMERA)
    zones = list(dict.fromkeys([*found.current_zones, *found.entered_zones]))
    matched = _rule(config, found, zones)
    if matched is None:
        return Ignored(IgnoredReason.UNMAPPED_LABEL)
    rule, zone = matched
    score = max((each for each in (found.top_score, found.score) if each is not None), default=0.0)
    minimum = rule.min_score if rule.min_score is not None else config.frigate.min_score
    if score < minimum:
        return Ignored(IgnoredReason.BELOW_MIN_SCORE)
    place: FrigatePlace = camera.zones.get(zone, camera) if zone else camera
    for each in zones:  # a rule without zones still uses the place of a zone the object is in
        if not zone and each in camera.zones:
            place = camera.zones[each]
            break
    observed = min(found.start_time, now)  # a camera clock running ahead never dates it later
    alert = AlertIn(
        source=f"frigate:{found.camera}",
        source_event_id=found.id,
        kind=AlertKind.VIDEO,
        category=rule.category,
        severity=int(rule.severity) if rule.severity is not None else None,
        location=place.location,
        jurisdiction=place.jurisdiction,
        observed_at=datetime.fromtimestamp(observed, UTC),
        title=f"{found.camera}: {found.label}" + (f" @ {zone}" if zone else ""),
        attributes={
            "frigate": {
                "id": found.id,
                "type": event.type.value,
                "camera": found.camera,
                "label": found.label,
                "sub_label": found.sub_label,
                "score": found.score,
                "top_score": found.top_score,
                "zones": zones,
                "start_time": found.start_time,
                "end_time": found.end_time,
                "has_snapshot": found.has_snapshot,
                "has_clip": found.has_clip,
            }
        },
    )
    return Matched(alert, (found.camera, zone, found.label))


def translate(event: FrigateEvent, config: Config, now: float) -> AlertIn | None:
    """The alert one message stands for (before any cooldown), or None. Pure."""
    result = interpret(event, config, now)
    return result.alert if isinstance(result, Matched) else None


def _rule(config: Config, found: FrigateObject, zones: list[str]) -> tuple[FrigateRule, str] | None:
    for rule in config.frigate.rules:
        if rule.label != found.label or (rule.cameras and found.camera not in rule.cameras):
            continue
        if not rule.zones:
            return rule, ""
        inside = next((zone for zone in zones if zone in rule.zones), None)
        if inside is not None:
            return rule, inside
    return None


class Cooldown:
    """Per camera/zone/label: after one object's alert, other objects are ignored a while.

    The object that opened the window keeps passing (its updates are duplicates at intake, and
    must stay answerable as such); so do objects already let through. Memory is bounded.
    """

    def __init__(self, seconds: float, max_objects: int = 10_000) -> None:
        self.seconds = seconds
        self.max_objects = max_objects
        self._opened: dict[tuple[str, str, str], float] = {}
        self._admitted: OrderedDict[str, None] = OrderedDict()

    def admit(self, matched: Matched, now: float) -> bool:
        object_id = matched.alert.source + "/" + matched.alert.source_event_id
        if object_id in self._admitted:
            self._admitted.move_to_end(object_id)
            return True
        opened = self._opened.get(matched.cooldown_key)
        if opened is not None and now - opened < self.seconds:
            return False
        self._opened[matched.cooldown_key] = now
        self._admitted[object_id] = None
        while len(self._admitted) > self.max_objects:
            self._admitted.popitem(last=False)
        return True


@dataclass
class FrigateGateway:
    """What one feeder of Frigate messages holds: the cooldown and its counters."""

    config: Config
    cooldown: Cooldown
    ignored: dict[str, int]
    rejected: int = 0

    @classmethod
    def create(cls, config: Config) -> FrigateGateway:
        return cls(config, Cooldown(config.frigate.cooldown), {reason.value: 0 for reason in IgnoredReason})

    def take(self, event: FrigateEvent, now: float) -> AlertIn | Ignored:
        """The alert to send to intake, or why none (counted)."""
        result = interpret(event, self.config, now)
        if isinstance(result, Matched) and not self.cooldown.admit(result, now):
            result = Ignored(IgnoredReason.COOLDOWN)
        if isinstance(result, Ignored):
            self.ignored[result.reason.value] += 1
            return result
        return result.alert
