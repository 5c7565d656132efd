"""Simulated Frigate cameras: which of the config's rules a camera can trigger, and its objects' messages."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace

from dispatch.config.model import Config, FrigateRule
from dispatch.simulate.happenings import FrigateMessage, Origin, Tracked
from dispatch.simulate.places import Point

# How often each kind of sighting happens at rate 1 (mean seconds between objects); a
# person in the water is rare, boats in the fishing ban and hawkers are daily business.
MEAN_INTERVAL_S = {
    "person_in_water": 1200.0,
    "illegal_fishing": 420.0,
    "illegal_vending": 360.0,
    "traffic_accident": 900.0,
}
DEFAULT_INTERVAL_S = 600.0
_ID_LETTERS = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Scene:
    """A configured camera (and zone) where a rule's label can be seen."""

    camera: str
    rule: FrigateRule
    zone: str | None
    threshold: float
    point: Point | None
    """Where the zone (or camera) looks, when the config pins it; hotline callers stand there."""

    @property
    def mean_interval_s(self) -> float:
        return MEAN_INTERVAL_S.get(self.rule.category, DEFAULT_INTERVAL_S)

    @property
    def critical(self) -> bool:
        return self.rule.severity is not None and self.rule.severity <= 2


def scenes(config: Config) -> list[Scene]:
    """Rules tied to a camera or to a zone a camera has; a rule for any camera anywhere
    (fire, smoke) is left to the detectors: an embankment camera rarely sees a kitchen."""
    frigate = config.frigate
    found: list[Scene] = []
    for rule in frigate.rules:
        if rule.cameras:
            cameras = [name for name in rule.cameras if name in frigate.cameras]
        elif rule.zones:
            cameras = [
                name for name, camera in frigate.cameras.items() if set(rule.zones) & set(camera.zones)
            ]
        else:
            continue
        for name in cameras:
            camera = frigate.cameras[name]
            zone = next((each for each in rule.zones if each in camera.zones), None)
            if rule.zones and zone is None:
                continue
            place = camera.zones[zone] if zone is not None else camera
            location = place.location or camera.location
            point = Point(location.lat, location.lon) if location is not None else None
            threshold = rule.min_score if rule.min_score is not None else frigate.min_score
            found.append(Scene(name, rule, zone, threshold, point))
    return found


def sighting(scene: Scene, at: float, rng: random.Random, *, real: bool) -> list[FrigateMessage]:
    """One tracked object from appearing to leaving, as Frigate reports it: new, updates, end.

    A real sighting reaches the rule's score (and its zone, maybe only in an update, so the
    `new` alone matches nothing); otherwise its best score stays under the threshold, which
    the server ignores as `below_min_score`, like the many shadows a camera sees.
    """
    key = "".join(rng.choices(_ID_LETTERS, k=6))
    if real:
        top = rng.uniform(scene.threshold + 0.05, min(0.97, scene.threshold + 0.25))
    else:
        top = rng.uniform(max(0.2, scene.threshold - 0.3), scene.threshold - 0.05)
    zone = (scene.zone,) if scene.zone else ()
    starts_inside = not zone or rng.random() < 0.5
    first = round(top - rng.uniform(0.05, 0.15), 4)
    x, y = rng.randrange(100, 1500), rng.randrange(100, 800)
    state = Tracked(
        score=first,
        top_score=first,
        current_zones=zone if starts_inside else (),
        entered_zones=zone if starts_inside else (),
        has_snapshot=False,
        has_clip=False,
        stationary=False,
        ended_at=None,
        box=(x, y, x + rng.randrange(40, 160), y + rng.randrange(60, 240)),
    )
    origin = Origin.CAMERA if real else Origin.CAMERA_NOISE
    messages = [_message(scene, origin, at, key, at, "new", state, state)]
    updates = rng.randint(2, 5)
    moment = at
    for index in range(updates):
        moment += rng.uniform(2.0, 6.0)
        score = top if index == updates - 1 else round(min(top, state.score + rng.uniform(0.01, 0.08)), 4)
        dx, dy = rng.randrange(-30, 31), rng.randrange(-20, 21)
        after = replace(
            state,
            score=score,
            top_score=round(max(state.top_score, score), 4),
            current_zones=zone,
            entered_zones=zone,
            has_snapshot=True,
            stationary=state.stationary or (index >= 1 and rng.random() < 0.5),
            box=(state.box[0] + dx, state.box[1] + dy, state.box[2] + dx, state.box[3] + dy),
        )
        messages.append(_message(scene, origin, moment, key, at, "update", state, after))
        state = after
    moment += rng.uniform(8.0, 40.0)
    ended = replace(state, current_zones=(), has_clip=True, ended_at=moment)
    messages.append(_message(scene, origin, moment, key, at, "end", state, ended))
    return messages


def _message(
    scene: Scene,
    origin: Origin,
    at: float,
    key: str,
    started_at: float,
    kind: str,
    before: Tracked,
    after: Tracked,
) -> FrigateMessage:
    return FrigateMessage(
        at=round(at, 3),
        origin=origin,
        camera=scene.camera,
        label=scene.rule.label,
        object_key=key,
        started_at=round(started_at, 3),
        type=kind,
        before=before,
        after=after,
    )
