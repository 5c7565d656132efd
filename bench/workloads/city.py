"""The city alerts happen in: street points, jitter around a place, a grid, the grid workers."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METERS_PER_DEGREE = 111_320.0


class City:
    """The config's jurisdictions and roster, with one random generator for every place drawn."""

    def __init__(self, config_path: Path, rng: random.Random) -> None:
        from dispatch.config.model import Tier, load_config
        from dispatch.core.routing import Router

        self.config = load_config(config_path)
        self.rng = rng
        self.router = Router(self.config)
        self.streets = [node for node in self.config.jurisdictions if node.tier == Tier.STREET]
        self.grid_workers = [
            unit
            for unit in self.config.responders
            if self.config.jurisdiction_by_id[unit.jurisdiction].tier == Tier.STREET
        ]

    def street_point(self) -> tuple[float, float]:
        """A random point inside a random street-tier polygon (a new street for every try)."""
        while True:
            node = self.rng.choice(self.streets)
            point = self._try_point(node, self.rng)
            if point is not None:
                return point

    def point_in(self, node: Any, rng: random.Random) -> tuple[float, float]:
        """A random point inside one jurisdiction's polygon (as the router places it)."""
        while True:
            point = self._try_point(node, rng)
            if point is not None:
                return point

    def _try_point(self, node: Any, rng: random.Random) -> tuple[float, float] | None:
        west, south, east, north = node.polygon.geometry.bounds
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        found = self.router.locate(lat, lon)
        return (lat, lon) if found is not None and found.id == node.id else None

    def jitter(self, lat: float, lon: float, metres: float) -> dict[str, float]:
        """A location up to `metres` from a place, in a random direction."""
        distance = self.rng.uniform(0, metres)
        bearing = self.rng.uniform(0, 2 * math.pi)
        dlat = distance * math.cos(bearing) / METERS_PER_DEGREE
        dlon = distance * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(lat)))
        return {"lat": round(lat + dlat, 6), "lon": round(lon + dlon, 6)}

    def street_grid(self, spacing_m: float) -> list[tuple[float, float]]:
        """The centres of a grid of `spacing_m` cells over the city that lie in a street jurisdiction."""
        from dispatch.config.model import Tier

        west, south, east, north = self.config.root.polygon.geometry.bounds
        step_lat = spacing_m / METERS_PER_DEGREE
        step_lon = step_lat / math.cos(math.radians(max(abs(south), abs(north))))
        candidates = [
            (south + step_lat * (i + 0.5), west + step_lon * (j + 0.5))
            for i in range(int((north - south) / step_lat))
            for j in range(int((east - west) / step_lon))
        ]
        found = self.router.locate_many(candidates)
        return [
            point
            for point, node in zip(candidates, found, strict=True)
            if node is not None and node.tier == Tier.STREET
        ]


UNIT_SKILLS = ("patrol", "first_aid", "flood_watch", "fire_initial", "water_rescue")
"""What the benchmarks' extra street units can do: every category's street step takes them."""


def add_street_units(
    data: dict[str, Any], base: Path, per_street: int | Mapping[str, int], seed: int, per_town: int = 0
) -> None:
    """`per_street` extra units in every street jurisdiction of the config `data` (read from `base`;
    a mapping: a count per street id, others get none), and `per_town` in every town (after the
    streets', so the streets' draws do not depend on it).

    Each lives at a random point of its jurisdiction (seeded) and holds UNIT_SKILLS; their ids are
    `bench-{jurisdiction}-{n}`.
    """
    from dispatch.config.model import Tier

    rng = random.Random(seed)
    city = City(base, rng)
    towns = [node for node in city.config.jurisdictions if node.tier == Tier.TOWN]

    def street_count(street: Any) -> int:
        return per_street if isinstance(per_street, int) else per_street.get(street.id, 0)

    for node, count in [(street, street_count(street)) for street in city.streets] + [
        (town, per_town) for town in towns
    ]:
        # A town's point is one of its streets' (the router places a point in the deepest node).
        inside = [street for street in city.streets if street.parent == node.id] or [node]
        for number in range(count):
            lat, lon = city.point_in(rng.choice(inside) if node.tier == Tier.TOWN else node, rng)
            data["responders"].append(
                {
                    "id": f"bench-{node.id}-{number}",
                    "name": f"bench {node.id} {number}",
                    "jurisdiction": node.id,
                    "department": None,
                    "skills": list(UNIT_SKILLS),
                    "home": {"lat": round(lat, 6), "lon": round(lon, 6)},
                }
            )
