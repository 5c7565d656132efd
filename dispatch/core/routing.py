"""Routing: which jurisdiction a point lies in (deepest polygon wins) and how far apart points are."""

from __future__ import annotations

import math
from collections.abc import Sequence

import shapely
from shapely.strtree import STRtree

from dispatch.config.model import Config, Jurisdiction

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); plenty for a city-sized area."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class Router:
    def __init__(self, config: Config) -> None:
        self._config = config
        self._nodes: list[Jurisdiction] = list(config.jurisdictions)
        self._tree = STRtree([node.polygon.geometry for node in self._nodes])
        for node in self._nodes:
            shapely.prepare(node.polygon.geometry)

    def locate(self, lat: float, lon: float) -> Jurisdiction | None:
        """The deepest node whose polygon contains the point; None when outside every one."""
        return self.locate_many([(lat, lon)])[0]

    def locate_many(self, points: Sequence[tuple[float, float]]) -> list[Jurisdiction | None]:
        """`locate` for many (lat, lon) points in one vectorized tree query."""
        found: list[Jurisdiction | None] = [None] * len(points)
        if not points:
            return found
        geometries = shapely.points([(lon, lat) for lat, lon in points])
        inputs, hits = self._tree.query(geometries, predicate="intersects")
        for point_index, node_index in zip(inputs.tolist(), hits.tolist(), strict=True):
            node = self._nodes[node_index]
            best = found[point_index]
            if best is None or node.tier.depth > best.tier.depth:
                found[point_index] = node
        return found
