"""The flood-day scenario: what happens in Yuanjiang, and when, for a seed. Pure and deterministic.

The day is played in episodes of an hour (at rate 1), each drawn from its own seeded random
stream, so the script is endless, the same for the same seed, and cheap to extend. Each
generator has its own stream too: adding one never reshuffles the others. Everything is
derived from config.yaml: categories, jurisdictions and cameras the config lacks are skipped.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from itertools import count, takewhile

from dispatch.config.model import Config, Jurisdiction
from dispatch.simulate import cameras, sensors, texts
from dispatch.simulate.happenings import Happening, HotlineCall, Origin
from dispatch.simulate.places import (
    GAUGE_SITES,
    GaugeSite,
    Point,
    inside,
    is_urban,
    near,
    place_name,
    sample_point,
    stable_point,
    streets,
    towns,
)

EPISODE_S = 3600.0

# Mean seconds between new events at rate 1: a few new incidents a minute in all.
HOTLINE_EVERY_S = 75.0
SMOKE_EVERY_S = 150.0
GAS_EVERY_S = 300.0
RAIN_EVERY_S = 240.0
CAMERA_NOISE_EVERY_S = 240.0
FOCUS_EVERY_S = (180.0, 300.0)
FOCUS_ANSWER_S = 60.0
LEVEE_FIRST_S = (200.0, 240.0)
"""The first piping of the day comes once people are watching: severity II, so it goes up to the
prefecture (when the county has an upstream link) and the prefecture's instruction comes down."""
LEVEE_LATER_CHANCE = 0.3


class FloodDay:
    """Gauges rising through warning and guarantee levels, rain cells flooding town centres,
    smoke and gas detectors, Frigate sightings, hotline calls with several callers per event.

    `focus`, a street id, adds a steady stream of events there (the demo's human-held unit).
    """

    name = "flood-day"

    def __init__(self, config: Config, seed: int, focus: str | None = None) -> None:
        self.config = config
        self.seed = seed
        categories = config.category_by_id
        self.gauges: list[tuple[GaugeSite, Point]] = []
        if "water_level_warning" in categories:
            for site in GAUGE_SITES:
                node = config.jurisdiction_by_id.get(site.jurisdiction)
                if node is not None:
                    self.gauges.append((site, stable_point(config, node, site.id)))
        self.levees = self.gauges if "embankment_seepage" in categories else []
        self.drains = towns(config) if "waterlogging" in categories else []
        self.streets = streets(config)
        self.street_weights = [3.0 if is_urban(config, node) else 1.0 for node in self.streets]
        self.detectors = [each for each in ("smoke", "gas_leak") if each in categories and self.streets]
        self.call_categories = [
            name for name, story in texts.STORIES.items() if name in categories and story.weight > 0
        ]
        self.scenes = cameras.scenes(config)
        self.focus: Jurisdiction | None = None
        self.focus_categories: list[str] = []
        if focus is not None:
            self.focus = config.jurisdiction_by_id[focus]
            skills = {
                skill for unit in config.responders if unit.jurisdiction == focus for skill in unit.skills
            }
            # What the unit there can take, on a ladder that gives a person a minute to see it.
            self.focus_categories = [
                name
                for name in dict.fromkeys(("waterlogging", "smoke", *self.call_categories))
                if name in categories
                and set(categories[name].skills) <= skills
                and categories[name].default_severity >= 3
                and config.policies[categories[name].policy].steps[0].accept_within >= FOCUS_ANSWER_S
            ]

    # The script --------------------------------------------------------------------------------

    def happenings(self) -> Iterator[Happening]:
        """Every happening in time order, without end (none at all for a config it cannot use)."""
        pending: list[tuple[float, int, Happening]] = []
        order = count()
        for episode in count():
            horizon = episode * EPISODE_S
            # An episode's happenings start within it, but may run into the next one.
            while pending and pending[0][0] < horizon:
                yield heapq.heappop(pending)[2]
            found = self.episode(episode)
            if not found and not pending and episode > 0:
                return  # nothing this config knows how to play
            for happening in found:
                heapq.heappush(pending, (happening.at, next(order), happening))

    def until(self, seconds: float) -> list[Happening]:
        return list(takewhile(lambda happening: happening.at < seconds, self.happenings()))

    def episode(self, index: int) -> list[Happening]:
        start, opening = index * EPISODE_S, index == 0
        found: list[Happening] = []
        generators = {
            "gauges": self._gauges,
            "rain": self._rain,
            "detectors": self._detectors,
            "calls": self._calls,
            "cameras": self._cameras,
            "focus": self._focus,
            "levees": self._levees,
        }
        for name, generate in generators.items():
            rng = random.Random(f"{self.seed}/{index}/{name}")
            found.extend(generate(rng, start, opening, index))
        return sorted(found, key=lambda happening: happening.at)

    # Generators --------------------------------------------------------------------------------

    def _gauges(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Each station rises through 警戒水位 (III), some through 保证水位 (II), crests, recedes."""
        found: list[Happening] = []
        for position, (site, point) in enumerate(self.gauges):
            if not opening and rng.random() > 0.8:
                continue
            if opening and position == 0:
                crossing = start + rng.uniform(5.0, 12.0)
            else:
                crossing = start + rng.uniform(60.0 if opening else 0.03 * EPISODE_S, 0.5 * EPISODE_S)
            above = rng.uniform(0.25, 0.45) * EPISODE_S
            found.extend(sensors.gauge_rise(self.config, site, point, crossing, above, rng, index * 10_000))
        return found

    def _levees(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Piping behind an embankment by a gauged water (管涌): severity II, on the critical ladder."""
        if not self.levees or (not opening and rng.random() > LEVEE_LATER_CHANCE):
            return []
        site, point = rng.choice(self.levees)
        at = start + (rng.uniform(*LEVEE_FIRST_S) if opening else rng.uniform(0.1, 0.9) * EPISODE_S)
        return list(sensors.levee_piping(self.config, site, point, at, rng, count(index * 10_000)))

    def _rain(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Rain cells: the waterlogging sensors of one to three town centres flood for a while."""
        found: list[Happening] = []
        if not self.drains:
            return found
        serial = count(index * 10_000)
        at = start + (rng.uniform(20.0, 30.0) if opening else rng.expovariate(1 / RAIN_EVERY_S))
        while at < start + EPISODE_S:
            hit = rng.sample(self.drains, k=min(len(self.drains), rng.choice((1, 1, 2, 3))))
            for number, town in enumerate(hit):
                onset = at if number == 0 else at + rng.uniform(0.0, 90.0)
                center = Point(town.center.lat, town.center.lon)
                found.extend(
                    sensors.flooding(self.config, town, center, onset, rng, serial, Origin.WATERLOGGING)
                )
            at += rng.expovariate(1 / RAIN_EVERY_S)
        return found

    def _detectors(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Smoke and gas detectors in homes and shops, more of them in the urban streets."""
        found: list[Happening] = []
        serial = count(index * 10_000)
        calls = count(index * 10_000 + 5_000)
        for category in self.detectors:
            mean = SMOKE_EVERY_S if category == "smoke" else GAS_EVERY_S
            first = (12.0, 18.0) if category == "smoke" else (40.0, 55.0)
            at = start + (rng.uniform(*first) if opening else rng.expovariate(1 / mean))
            while at < start + EPISODE_S:
                street = rng.choices(self.streets, self.street_weights)[0]
                found.extend(self._alarm(rng, category, street, at, serial, calls))
                at += rng.expovariate(1 / mean)
        return found

    def _alarm(
        self,
        rng: random.Random,
        category: str,
        street: Jurisdiction,
        at: float,
        serial: Iterator[int],
        calls: Iterator[int],
        *,
        focus: bool = False,
    ) -> list[Happening]:
        origin = Origin.FOCUS if focus else Origin.SMOKE if category == "smoke" else Origin.GAS
        readings = sensors.detector_alarm(self.config, category, street, at, rng, serial, origin)
        found: list[Happening] = list(readings)
        if category == "smoke" and "fire" in self.config.category_by_id and rng.random() < 0.15:
            # Now and then the smoke was a real fire and the neighbours dial 119.
            later = at + rng.uniform(60.0, 150.0)
            found.extend(self._cluster(rng, "fire", street, readings[0].point, later, calls, 2, 3))
        return found

    def _calls(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Events that people phone in, two to four callers each within a few minutes."""
        found: list[Happening] = []
        if not self.call_categories or not self.streets:
            return found
        serial = count(index * 10_000)
        weights = [texts.STORIES[name].weight for name in self.call_categories]
        at = start + (rng.uniform(3.0, 6.0) if opening else rng.expovariate(1 / HOTLINE_EVERY_S))
        while at < start + EPISODE_S:
            category = rng.choices(self.call_categories, weights)[0]
            street = rng.choices(self.streets, self.street_weights)[0]
            point = sample_point(self.config, street, rng)
            found.extend(self._cluster(rng, category, street, point, at, serial, 2, 4))
            at += rng.expovariate(1 / HOTLINE_EVERY_S)
        return found

    def _cluster(
        self,
        rng: random.Random,
        category: str,
        street: Jurisdiction,
        point: Point,
        at: float,
        serial: Iterator[int],
        fewest: int,
        most: int,
        origin: Origin = Origin.HOTLINE,
    ) -> list[Happening]:
        callers = rng.choices(range(fewest, most + 1), [50, 35, 15][: most - fewest + 1])[0]
        story = texts.STORIES.get(category)
        line = story.line if story else "12345"
        landmark = rng.choice(texts.LANDMARKS)
        event = next(serial)
        variant = rng.randrange(8)
        moments = [at, *sorted(at + rng.uniform(20.0, 240.0) for _ in range(callers - 1))]
        found: list[Happening] = []
        for caller, moment in enumerate(moments):
            number = event * 10 + caller
            found.append(
                HotlineCall(
                    at=round(moment, 3),
                    origin=origin,
                    serial=number,
                    event=event,
                    line=line,
                    caller_number=str(13_800_000_000 + number % 100_000_000),
                    caller_name=rng.choice(texts.SURNAMES) + rng.choice(texts.CALLER_TITLES),
                    category=category,
                    point=point if caller == 0 else near(self.config, street, point, 120.0, rng),
                    address=f"{place_name(self.config, street)}{landmark}",
                    statement=texts.statement(category, variant, caller, f"{street.name}{landmark}"),
                )
            )
        return found

    def _cameras(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Frigate objects on the configured cameras, and the shadows it scores too low."""
        found: list[Happening] = []
        if not self.scenes:
            return found
        calls = count(index * 10_000 + 8_000)
        busiest = min(self.scenes, key=lambda scene: scene.mean_interval_s)
        for scene in self.scenes:
            at = start + rng.expovariate(1 / scene.mean_interval_s)
            if opening and scene is busiest:
                at = start + rng.uniform(30.0, 40.0)
            elif opening and scene.critical:
                at = max(at, start + 180.0)  # the all-tier alarm once people are watching
            while at < start + EPISODE_S:
                found.extend(cameras.sighting(scene, at, rng, real=True))
                street = self._street_at(scene.point)
                if scene.critical and scene.point is not None and street is not None and rng.random() < 0.5:
                    # Bystanders call too: their calls join the camera's incident.
                    moment = at + rng.uniform(40.0, 90.0)
                    found.extend(
                        self._cluster(rng, scene.rule.category, street, scene.point, moment, calls, 2, 3)
                    )
                at += rng.expovariate(1 / scene.mean_interval_s)
        at = start + rng.expovariate(1 / CAMERA_NOISE_EVERY_S)
        while at < start + EPISODE_S:
            found.extend(cameras.sighting(rng.choice(self.scenes), at, rng, real=False))
            at += rng.expovariate(1 / CAMERA_NOISE_EVERY_S)
        return found

    def _street_at(self, point: Point | None) -> Jurisdiction | None:
        if point is None:
            return None
        return next((node for node in self.streets if inside(self.config, node, point)), None)

    def _focus(self, rng: random.Random, start: float, opening: bool, index: int) -> list[Happening]:
        """Something for the focus street's unit to do every few minutes, the first within a minute."""
        found: list[Happening] = []
        street = self.focus
        if street is None or not self.focus_categories:
            return found
        serial = count(index * 10_000 + 9_000)
        at = start + (rng.uniform(18.0, 25.0) if opening else rng.uniform(*FOCUS_EVERY_S))
        while at < start + EPISODE_S:
            category = rng.choice(self.focus_categories)
            if category == "waterlogging":
                center = Point(street.center.lat, street.center.lon)
                found.extend(sensors.flooding(self.config, street, center, at, rng, serial, Origin.FOCUS))
            elif category == "smoke":
                found.extend(self._alarm(rng, "smoke", street, at, serial, serial, focus=True))
            else:
                point = sample_point(self.config, street, rng)
                found.extend(self._cluster(rng, category, street, point, at, serial, 2, 3, Origin.FOCUS))
            at += rng.uniform(*FOCUS_EVERY_S)
        return found


SCENARIOS = {FloodDay.name: FloodDay}
