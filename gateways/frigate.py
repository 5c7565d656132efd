"""Frigate NVR: its `frigate/events` and `frigate/reviews` messages translated into alerts.

Frigate publishes one message per change of a tracked object (`new`, many `update`s, `end`),
each with the object's state `before` and `after`; since 0.14 it also groups a camera's
activity into review items (`frigate/reviews`, same change feed) graded `alert` or
`detection`. One tracked object is one alert (its Frigate id is the `source_event_id`); one
review item graded `alert` is one alert too (`review:{id}`). Later messages of either are
duplicates at intake, but what a dispatcher cares about (see `changes`) rewrites the alert in
place. What holds floods back (the memory of what was passed on, the cooldown per camera,
zone and label) is gateways/frigate_flood.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationError

from dispatch.config.model import Config, FrigatePlace, FrigateRule
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.wire_limits import EARLIEST_EPOCH, ShallowExtras, free_form
from dispatch.shared.errors import InvalidInput

LATEST_EPOCH = 32_503_680_000.0  # year 3000: a later timestamp is a broken clock, not a date
# A camera clock running ahead is not refused (an alarm must not be lost to it): the alert is
# dated now at the latest (`_Sighting.matched`), and the stored epoch floats always read back.
SUB_LABEL_MAX_BYTES = 1024
"""A sub label is a name or [name, score]: small."""
TOP_SCORE_RISE = 0.05
"""How much higher an object's best score must get before its alert is rewritten."""
REVIEW_PREFIX = "review:"
"""Prefix of a review item's `source_event_id`, so it never meets a tracked object's id."""
VERIFIED = "-verified"
"""Frigate's suffix on a review's object label once a sub label (a known face, a plate) is set."""


class FrigateEventType(StrEnum):
    NEW = "new"
    UPDATE = "update"
    END = "end"


class FrigateObject(ShallowExtras):
    """A tracked object as Frigate describes it (fields Frigate adds later are kept, unread)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    id: str = Field(min_length=1, max_length=200, description="Frigate's id of the tracked object.")
    camera: str = Field(min_length=1, max_length=64, description="Camera name in Frigate's config.")
    label: str = Field(min_length=1, max_length=64, description="person, car, fire, smoke, boat …")
    sub_label: Annotated[Any, free_form(max_bytes=SUB_LABEL_MAX_BYTES)] = Field(
        None, description="A recognized name, or [name, score]."
    )
    score: float | None = Field(None, ge=0, le=1, description="Score of the current frame.")
    top_score: float | None = Field(None, ge=0, le=1, description="Best score so far.")
    false_positive: bool = Field(False, description="Frigate's own verdict: not (yet) a real object.")
    start_time: float = Field(
        ge=EARLIEST_EPOCH, le=LATEST_EPOCH, description="When the object appeared (epoch s)."
    )
    end_time: float | None = Field(
        None, ge=EARLIEST_EPOCH, le=LATEST_EPOCH, description="When it left (epoch s)."
    )
    current_zones: list[str] = Field(default_factory=list, description="Zones it is in now.")
    entered_zones: list[str] = Field(default_factory=list, description="Zones it has entered.")
    has_snapshot: bool = Field(False, description="A snapshot can be fetched from Frigate.")
    has_clip: bool = Field(False, description="A clip can be fetched from Frigate.")
    stationary: bool = Field(False, description="It has stopped moving.")


class FrigateEvent(ShallowExtras):
    """One `frigate/events` message, exactly as Frigate publishes it."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: FrigateEventType = Field(strict=False, description="new, update or end.")
    before: FrigateObject | None = Field(None, description="The object before this change.")
    after: FrigateObject = Field(description="The object after this change: what is translated.")


class FrigateReviewSeverity(StrEnum):
    ALERT = "alert"
    DETECTION = "detection"


class FrigateReviewData(ShallowExtras):
    """What a review item saw, gathered over its objects."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    detections: list[str] = Field(default_factory=list, description="Ids of its tracked objects.")
    objects: list[str] = Field(
        default_factory=list, description="Their labels (`person-verified` once a sub label is known)."
    )
    sub_labels: list[str] = Field(default_factory=list, description="Recognized names.")
    zones: list[str] = Field(default_factory=list, description="Zones its objects entered.")
    audio: list[str] = Field(default_factory=list, description="Audio labels heard (scream, fire_alarm …).")


class FrigateReviewItem(ShallowExtras):
    """A review item (Frigate ≥ 0.14): a stretch of one camera's activity, graded."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    id: str = Field(min_length=1, max_length=200, description="Frigate's id of the review item.")
    camera: str = Field(min_length=1, max_length=64, description="Camera name in Frigate's config.")
    start_time: float = Field(
        ge=EARLIEST_EPOCH, le=LATEST_EPOCH, description="When the activity began (epoch s)."
    )
    end_time: float | None = Field(
        None, ge=EARLIEST_EPOCH, le=LATEST_EPOCH, description="When it ended (epoch s)."
    )
    severity: FrigateReviewSeverity = Field(
        strict=False, description="alert or detection (Frigate's `review` config)."
    )
    thumb_path: str | None = Field(None, max_length=1000, description="Thumbnail path on the NVR.")
    data: FrigateReviewData = Field(description="Objects, zones and audio of the item.")


class FrigateReview(ShallowExtras):
    """One `frigate/reviews` message, exactly as Frigate publishes it."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: FrigateEventType = Field(strict=False, description="new, update or end.")
    before: FrigateReviewItem | None = Field(None, description="The item before this change.")
    after: FrigateReviewItem = Field(description="The item after this change: what is translated.")


class IgnoredReason(StrEnum):
    FALSE_POSITIVE = "false_positive"
    NOT_AN_ALERT = "not_an_alert"
    UNMAPPED_CAMERA = "unmapped_camera"
    UNMAPPED_LABEL = "unmapped_label"
    BELOW_MIN_SCORE = "below_min_score"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Ignored:
    reason: IgnoredReason


@dataclass(frozen=True)
class Matched:
    """An object (or review item) a rule turned into an alert, with what the cooldown needs."""

    alert: AlertIn
    cooldown_key: tuple[str, str, str]
    """(camera, zone, label); zone is empty for a rule without zones."""
    objects: tuple[str, ...] = ()
    """Frigate ids of the tracked objects it stands for: its own, or a review's detections."""


# Translation ----------------------------------------------------------------------------------


def interpret(event: FrigateEvent, config: Config, now: float) -> Matched | Ignored:
    """The alert one message stands for, or why it stands for none. Pure."""
    found = event.after
    if found.false_positive:
        return Ignored(IgnoredReason.FALSE_POSITIVE)
    zones = list(dict.fromkeys([*found.current_zones, *found.entered_zones]))
    sighting = _sighting(config, found.camera, [found.label], zones)
    if isinstance(sighting, Ignored):
        return sighting
    score = max((each for each in (found.top_score, found.score) if each is not None), default=0.0)
    rule = sighting.rule
    if score < (rule.min_score if rule.min_score is not None else config.frigate.min_score):
        return Ignored(IgnoredReason.BELOW_MIN_SCORE)
    attributes = {
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
    return sighting.matched(found.id, min(found.start_time, now), attributes, (found.id,))


def translate(event: FrigateEvent, config: Config, now: float) -> AlertIn | None:
    """The alert one message stands for (before any cooldown), or None. Pure."""
    result = interpret(event, config, now)
    return result.alert if isinstance(result, Matched) else None


def interpret_review(review: FrigateReview, config: Config, now: float) -> Matched | Ignored:
    """The alert one `frigate/reviews` message stands for, or why it stands for none. Pure.

    Only items Frigate graded `alert` count; Frigate's own `review.alerts` config (labels,
    required zones) already judged them, so there is no score to check.
    """
    item = review.after
    if item.severity != FrigateReviewSeverity.ALERT:
        return Ignored(IgnoredReason.NOT_AN_ALERT)
    objects = (each.removesuffix(VERIFIED) for each in item.data.objects)
    labels = list(dict.fromkeys([*objects, *item.data.audio]))
    zones = list(dict.fromkeys(item.data.zones))
    sighting = _sighting(config, item.camera, labels, zones)
    if isinstance(sighting, Ignored):
        return sighting
    attributes = {
        "review_id": item.id,
        "type": review.type.value,
        "camera": item.camera,
        "severity": item.severity.value,
        "label": sighting.label,
        "labels": labels,
        "sub_labels": list(dict.fromkeys(item.data.sub_labels)),
        "zones": zones,
        "detections": list(item.data.detections),
        "start_time": item.start_time,
        "end_time": item.end_time,
        "thumb_path": item.thumb_path,
    }
    detections = tuple(item.data.detections)
    return sighting.matched(REVIEW_PREFIX + item.id, min(item.start_time, now), attributes, detections)


def translate_review(review: FrigateReview, config: Config, now: float) -> AlertIn | None:
    """The alert one review message stands for (before any cooldown), or None. Pure."""
    result = interpret_review(review, config, now)
    return result.alert if isinstance(result, Matched) else None


def source_of(camera: str) -> str:
    """The alert source of a Frigate camera's alerts."""
    return f"frigate:{camera}"


@dataclass(frozen=True)
class _Sighting:
    """A label a rule turned into a category, on a mapped camera, in a zone ("" for none)."""

    camera: str
    place: FrigatePlace
    rule: FrigateRule
    zone: str

    @property
    def label(self) -> str:
        return self.rule.label

    def matched(
        self, source_event_id: str, observed: float, attributes: dict[str, Any], objects: tuple[str, ...]
    ) -> Matched:
        """`observed` is never after now: a camera clock running ahead never dates an alert later."""
        try:
            alert = AlertIn(
                source=source_of(self.camera),
                source_event_id=source_event_id,
                kind=AlertKind.VIDEO,
                category=self.rule.category,
                severity=int(self.rule.severity) if self.rule.severity is not None else None,
                location=self.place.location,
                jurisdiction=self.place.jurisdiction,
                observed_at=datetime.fromtimestamp(observed, UTC),
                title=f"{self.camera}: {self.label}" + (f" @ {self.zone}" if self.zone else ""),
                attributes={"frigate": attributes},
            )
        except ValidationError as err:  # e.g. attributes over their size: ours, so MQTT counts it
            problem = err.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise InvalidInput(f"{where}: {problem['msg']}", field=where) from err
        return Matched(alert, (self.camera, self.zone, self.label), objects)


def _sighting(
    config: Config, camera_name: str, labels: Sequence[str], zones: Sequence[str]
) -> _Sighting | Ignored:
    """The first rule matching one of the labels on this camera, placed; or why none."""
    camera = config.frigate.cameras.get(camera_name)
    if camera is None:
        return Ignored(IgnoredReason.UNMAPPED_CAMERA)
    for rule in config.frigate.rules:
        if rule.label not in labels or (rule.cameras and camera_name not in rule.cameras):
            continue
        zone = next((each for each in zones if each in rule.zones), "")
        if rule.zones and not zone:
            continue
        # A rule without zones still uses the place of a zone the object is in.
        placed = zone or next((each for each in zones if each in camera.zones), "")
        place: FrigatePlace = camera.zones.get(placed, camera) if placed else camera
        return _Sighting(camera_name, place, rule, zone)
    return Ignored(IgnoredReason.UNMAPPED_LABEL)


# What is worth rewriting an alert for ---------------------------------------------------------


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What a dispatcher cares about between two `frigate` attribute sets, each as [before, after].

    Meaningful: the best score up by TOP_SCORE_RISE or more, a zone (label, sub label) not
    seen before, a snapshot or clip becoming available, a recognized name appearing or
    changing, the end time being set. Everything else (the current frame's score, a box
    moving, a zone left) is noise: empty. Pure.
    """
    found: dict[str, list[Any]] = {}
    old_score, new_score = _score(before.get("top_score")), _score(after.get("top_score"))
    if new_score is not None and round(new_score - (old_score or 0.0), 6) >= TOP_SCORE_RISE:
        found["top_score"] = [old_score, new_score]
    for name in ("zones", "labels", "sub_labels"):
        old, new = _texts(before.get(name)), _texts(after.get(name))
        if set(new) - set(old):
            found[name] = [old, new]
    for name in ("has_snapshot", "has_clip"):
        if after.get(name) and not before.get(name):
            found[name] = [bool(before.get(name)), True]
    old_name, new_name = _name(before.get("sub_label")), _name(after.get("sub_label"))
    if new_name is not None and new_name != old_name:
        found["sub_label"] = [old_name, new_name]
    if after.get("end_time") is not None and before.get("end_time") is None:
        found["end_time"] = [None, after["end_time"]]
    return found


# A stored row may hold anything a sender once wrote: read it leniently, never raise.


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _texts(value: Any) -> list[str]:
    return [each for each in value if isinstance(each, str)] if isinstance(value, list) else []


def _name(sub_label: Any) -> str | None:
    """A sub label's name: Frigate sends a name, or [name, score] whose score keeps moving."""
    if isinstance(sub_label, list | tuple):
        sub_label = sub_label[0] if sub_label else None
    return sub_label if isinstance(sub_label, str) else None


def frigate_attributes(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `frigate` part of an alert's attributes ({} when there is none)."""
    found = attributes.get("frigate")
    return found if isinstance(found, Mapping) else {}
