"""Goal S1's two mixes of alerts: city-wide (most open incidents) and re-firing sensors (few do).

Both draw places once from a grid of street points (drawing each alert's place with the router
would cost the load generator more than sending it), and return alerts as dicts, so that the
same alerts can be written as our JSON or as Alertmanager's.

  CityWide  a roaming camera at a random place of the city, any category: most open an incident.
  Sensors   SENSORS devices at SENSOR_SITES sites (one category a site) re-firing: each sensor's
            alert joins its own open incident or its site's, so only a site's first alert opens
            one (≤ 5 % of a run's alerts once a run has sent SENSOR_SITES / 0.05 of them).
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from bench.workloads.city import City

PLACE_SPACING_M = 150.0
PLACE_JITTER_M = 60.0
SENSORS = 10_000
SENSOR_SITES = 80
SITE_JITTER_M = 30.0
SEVERITY = 4  # grade IV: the standard ladder, one street unit first, no all-tier notice


@cache
def _places(config_path: Path) -> tuple[tuple[float, float], ...]:
    """Street points PLACE_SPACING_M apart: the same for every run, computed once a process."""
    return tuple(City(config_path, random.Random(0)).street_grid(PLACE_SPACING_M))


class _Mix:
    """Numbering and timestamps shared by the mixes; `alerts(n)` is what a request carries."""

    name = ""
    description = ""

    def __init__(self, config_path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.city = City(config_path, self.rng)
        self.places = _places(config_path)
        self.categories = [category.id for category in self.city.config.categories]
        self.tag = uuid.uuid4().hex[:8]
        self.numbers = itertools.count(1)

    def alert(self) -> dict[str, Any]:
        raise NotImplementedError

    def stamped(self, body: dict[str, Any]) -> dict[str, Any]:
        body["source_event_id"] = f"{self.tag}-{next(self.numbers)}"
        body["observed_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        body["severity"] = SEVERITY
        return body

    def alerts(self, count: int) -> list[dict[str, Any]]:
        return [self.alert() for _ in range(count)]


class CityWide(_Mix):
    name = "city"
    description = "roaming cameras at random street places, any category (most open incidents)"

    def alert(self) -> dict[str, Any]:
        lat, lon = self.rng.choice(self.places)
        category = self.rng.choice(self.categories)
        source = f"cam-roaming-{self.rng.randrange(100_000)}"
        return self.stamped(
            {
                "source": source,
                "kind": "video",
                "category": category,
                "location": self.city.jitter(lat, lon, PLACE_JITTER_M),
                "title": f"{category} at {source}",
                "attributes": {"label": category, "score": round(self.rng.uniform(0.6, 0.99), 2)},
            }
        )


class Sensors(_Mix):
    name = "sensor"
    description = f"{SENSORS:,} sensors at {SENSOR_SITES} sites re-firing (≤ 5 % open incidents)"

    def __init__(self, config_path: Path, seed: int) -> None:
        super().__init__(config_path, seed)
        rng = self.rng
        sites = [(rng.choice(self.places), rng.choice(self.categories)) for _ in range(SENSOR_SITES)]
        self.sensors: list[tuple[str, str, dict[str, float]]] = []
        for number in range(SENSORS):
            (lat, lon), category = sites[number % SENSOR_SITES]
            location = self.city.jitter(lat, lon, SITE_JITTER_M)
            self.sensors.append((f"sensor-{number % SENSOR_SITES}-{number}", category, location))

    def alert(self) -> dict[str, Any]:
        source, category, location = self.rng.choice(self.sensors)
        return self.stamped(
            {
                "source": source,
                "kind": "sensor",
                "category": category,
                "location": location,
                "title": f"{category} at {source}",
                "attributes": {"level_m": round(self.rng.uniform(2.0, 4.5), 2), "warning_m": 2.5},
            }
        )


MIXES: dict[str, type[_Mix]] = {"city": CityWide, "sensor": Sensors}


def ours(alerts: list[dict[str, Any]]) -> bytes:
    """The body of one POST /api/v1/alerts: the alert itself, or {"alerts": [...]}."""
    return orjson.dumps(alerts[0]) if len(alerts) == 1 else orjson.dumps({"alerts": alerts})
