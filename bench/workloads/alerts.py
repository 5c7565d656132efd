"""The alert generator: the mixes of alerts the benchmarks send, over one City.

Three mixes, each from a seed:
  IntakeMix  gateways' everyday traffic: sensors and cameras re-firing at INTAKE_HOTSPOTS places
             (85 %), hotline calls about those places (10 %), roaming cameras anywhere (5 %).
  CityMix    repeats at CITY_HOTSPOTS places that join their open incidents, and new incidents
             (anywhere, or near a grid worker's home) at whatever share the caller sends them.
  SpreadMix  alerts that each open an incident: shuffled grid points GRID_SPACING_M apart.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.workloads.city import City

INTAKE_HOTSPOTS = 200
INTAKE_JITTER_M = 50.0
INTAKE_MIX = "85% hotspot devices (gauge-N-D, cam-N-D), 10% hotline-12345, 5% roaming cameras anywhere"
CITY_HOTSPOTS = 40
CITY_JITTER_M = 30.0
NEAR_HOME_M = 150.0
GRID_SPACING_M = 450.0
GAUGE_CATEGORIES = ("water_level_warning", "waterlogging", "embankment_seepage")
CAMERA_CATEGORIES = (
    "smoke",
    "fire",
    "traffic_accident",
    "crowd_gathering",
    "illegal_vending",
    "illegal_fishing",
    "fallen_tree",
    "manhole_cover_missing",
)


@dataclass(frozen=True)
class Hotspot:
    """A place that keeps producing alerts: a gauge or a camera (with a few devices) on one thing."""

    lat: float
    lon: float
    kind: str
    category: str
    devices: tuple[str, ...]


class IntakeMix:
    """Alerts as gateways send them: mostly repeats at known hotspots, some calls, some strays.

    85 % come from a hotspot's devices (they join the hotspot's open incident), 10 % are hotline
    calls about a hotspot, 5 % are strays anywhere in the city from roaming cameras (new
    incidents, so the server also routes, picks responders and opens tasks).
    """

    def __init__(self, config_path: Path, seed: int) -> None:
        self._rng = random.Random(seed)
        self._city = City(config_path, self._rng)
        known = [category.id for category in self._city.config.categories]
        self._all = known
        gauges = [c for c in GAUGE_CATEGORIES if c in known] or known
        cameras = [c for c in CAMERA_CATEGORIES if c in known] or known
        self.hotspots: list[Hotspot] = []
        for index in range(INTAKE_HOTSPOTS):
            lat, lon = self._city.street_point()
            if index % 2 == 0:
                category, kind, prefix = self._rng.choice(gauges), "sensor", "gauge"
            else:
                category, kind, prefix = self._rng.choice(cameras), "video", "cam"
            devices = tuple(f"{prefix}-{index}-{d}" for d in range(self._rng.randint(1, 3)))
            self.hotspots.append(Hotspot(lat, lon, kind, category, devices))
        self._ids = itertools.count(1)
        self._tag = uuid.uuid4().hex[:8]

    def alert(self) -> dict[str, Any]:
        rng = self._rng
        number = next(self._ids)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        roll = rng.random()
        spot = rng.choice(self.hotspots)
        if roll < 0.85:
            body = self._device(spot)
        elif roll < 0.95:
            body = self._hotline(spot)
        else:
            body = self._stray()
        body["source_event_id"] = f"{self._tag}-{number}"
        body["observed_at"] = now
        if rng.random() < 0.01:
            body["severity"] = 2
        return body

    def _device(self, spot: Hotspot) -> dict[str, Any]:
        rng = self._rng
        source = rng.choice(spot.devices)
        location = self._city.jitter(spot.lat, spot.lon, INTAKE_JITTER_M)
        attributes: dict[str, Any] = (
            {"level_m": round(rng.uniform(2.0, 4.5), 2), "warning_m": 2.5, "battery": rng.randint(20, 100)}
            if spot.kind == "sensor"
            else {"label": spot.category, "score": round(rng.uniform(0.6, 0.99), 2), "zone": "z1"}
        )
        return {
            "source": source,
            "kind": spot.kind,
            "category": spot.category,
            "location": location,
            "title": f"{spot.category} at {source}",
            "attributes": attributes,
        }

    def _hotline(self, spot: Hotspot) -> dict[str, Any]:
        return {
            "source": "hotline-12345",
            "kind": "hotline",
            "category": spot.category,
            "location": self._city.jitter(spot.lat, spot.lon, INTAKE_JITTER_M),
            "title": "12345 市民来电",
            "description": "市民来电反映现场情况，请尽快核实处置。",
            "attributes": {"caller": f"138****{self._rng.randint(0, 9999):04d}", "line": "12345"},
        }

    def _stray(self) -> dict[str, Any]:
        rng = self._rng
        lat, lon = self._city.street_point()
        return {
            "source": f"cam-roaming-{rng.randint(0, 999)}",
            "kind": "video",
            "category": rng.choice(self._all),
            "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
            "attributes": {"label": "event", "score": round(rng.uniform(0.6, 0.99), 2)},
        }

    def request(self, batch: int) -> bytes:
        """One POST body: an alert, or {"alerts": [...]} of `batch` of them."""
        if batch == 1:
            return orjson.dumps(self.alert())
        return orjson.dumps({"alerts": [self.alert() for _ in range(batch)]})

    def lines(self, count: int) -> bytes:
        """`count` alerts, one JSON object a line (for mosquitto_pub -l)."""
        return b"".join(orjson.dumps(self.alert()) + b"\n" for _ in range(count))


class CityMix:
    """New incidents far apart or near grid workers, and repeats at hotspots that correlate."""

    def __init__(self, config_path: Path, seed: int, policy: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.city = City(config_path, self.rng)
        self.config = self.city.config
        self.grid_workers = self.city.grid_workers
        common = set.intersection(*(set(unit.skills) for unit in self.grid_workers))
        # Categories any grid worker may take, so the street step finds the nearest one.
        self.categories = [
            c.id
            for c in self.config.categories
            if set(c.skills) <= common and (policy is None or c.policy == policy)
        ]
        self.tag = uuid.uuid4().hex[:8]
        self.numbers = itertools.count(1)
        self.hotspots = [
            (self.city.street_point(), self.rng.choice(self.categories)) for _ in range(CITY_HOTSPOTS)
        ]

    def _alert(self, source: str, category: str, location: dict[str, float], kind: str) -> bytes:
        number = next(self.numbers)
        return orjson.dumps(
            {
                "source": source,
                "source_event_id": f"{self.tag}-{number}",
                "kind": kind,
                "category": category,
                "severity": 4,  # grade IV: the standard or urgent ladder, no all-tier notice
                "location": location,
                "title": f"bench {category} #{number}",
            }
        )

    def new_incident(self, near: tuple[float, float] | None = None) -> bytes:
        """A unique source, so it never joins by signal; a random street point or near `near`."""
        lat, lon = near if near is not None else self.city.street_point()
        location = (
            self.city.jitter(lat, lon, NEAR_HOME_M)
            if near is not None
            else {"lat": round(lat, 6), "lon": round(lon, 6)}
        )
        return self._alert(
            f"bench-cam-{uuid.uuid4().hex[:10]}", self.rng.choice(self.categories), location, "video"
        )

    def near_grid_worker(self) -> bytes:
        unit = self.rng.choice(self.grid_workers)
        return self.new_incident((unit.home.lat, unit.home.lon))

    def hotspot(self, index: int | None = None) -> bytes:
        """The same device on the same thing again: joins the hotspot's open incident."""
        index = self.rng.randrange(CITY_HOTSPOTS) if index is None else index
        (lat, lon), category = self.hotspots[index]
        return self._alert(
            f"bench-gauge-{self.tag}-{index}", category, self.city.jitter(lat, lon, CITY_JITTER_M), "sensor"
        )


class SpreadMix:
    """Alerts that each open an incident: a grid of street points GRID_SPACING_M apart, shuffled.

    Alert n takes grid point n (mod the grid) and, once the grid is used up, the next category:
    no two alerts of one category lie within correlation.radius_m, and every source is new.
    """

    def __init__(self, config_path: Path, seed: int) -> None:
        rng = random.Random(seed)
        city = City(config_path, rng)
        if city.config.correlation.radius_m >= GRID_SPACING_M:
            raise SystemExit(f"correlation.radius_m ≥ {GRID_SPACING_M} m: alerts of the grid would join")
        self.points = city.street_grid(GRID_SPACING_M)
        rng.shuffle(self.points)
        self.categories = [category.id for category in city.config.categories]
        rng.shuffle(self.categories)
        self.tag = uuid.uuid4().hex[:8]

    @property
    def capacity(self) -> int:
        return len(self.points) * len(self.categories)

    def title(self, number: int) -> str:
        return f"bench {self.tag} #{number}"

    def alert(self, number: int) -> bytes:
        lat, lon = self.points[number % len(self.points)]
        category = self.categories[(number // len(self.points)) % len(self.categories)]
        return orjson.dumps(
            {
                "source": f"bench-cam-{self.tag}-{number}",
                "source_event_id": f"{self.tag}-{number}",
                "kind": "video",
                "category": category,
                "severity": 4,  # grade IV: the standard or urgent ladder, one street unit first
                "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
                "title": self.title(number),
                "attributes": {"label": category, "score": 0.9},
            }
        )
