"""Routing: which jurisdiction a point lies in (the deepest polygon wins)."""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.strtree import STRtree

from dispatch.config.model import Config, Jurisdiction


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
