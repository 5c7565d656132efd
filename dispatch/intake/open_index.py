"""The open-incident index: where each incident that may still be joined lies, by place and grid cell.

Correlation asks it which incidents of an alert's place lie within correlation.radius_m, so
that a pass reads a handful of rows by primary key instead of every open incident of the
place. It is a candidate generator, never the truth: every id it gives is read back from the
database and checked by the same rules as before (dispatch/intake/correlation.py). Only a
missing entry could change an outcome, so it holds every incident not in an ended state (a
resolved one may be reopened); an id too many only costs a read.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import sqlalchemy as sa

from dispatch.shared.geo import EARTH_RADIUS_M, distance_m
from dispatch.storage.tables import incident_table
from state_machines import IncidentState

ENDED_STATES = frozenset({IncidentState.CLOSED, IncidentState.CANCELLED, IncidentState.MERGED})
"""No transition leaves these: an incident in one of them is never joined again."""
_ENDED = sorted(state.value for state in ENDED_STATES)

METERS_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180
"""Along a meridian, for the haversine distance_m uses."""
MARGIN_M = 1.0
"""Kept beyond the radius, so rounding can only add a candidate that is then checked and dropped."""

Cell = int
"""A cell's row and column in one int (row · 2³² + column): one object a cell, not three."""
K = TypeVar("K")

_not_ended = sa.select(
    incident_table.c.id, incident_table.c.place, incident_table.c.lat, incident_table.c.lon
).where(incident_table.c.state.not_in(_ENDED))


class OpenIndex:
    """Per place (category/jurisdiction): a square grid of cells twice the radius wide, and the unplaced.

    Cells twice the radius wide: a circle of the radius touches at most 2 × 3 of them, and most
    hold a few incidents, so cells cost little next to the incidents themselves.
    """

    def __init__(self, radius_m: float) -> None:
        self._radius_m = radius_m + MARGIN_M
        self._cell_deg = 2 * max(radius_m, 1.0) / METERS_PER_DEGREE
        # Groups of ids are tuples: most hold one or two, and a tuple of one is half a list.
        self._cells: dict[str, dict[Cell, tuple[int, ...]]] = {}
        self._unplaced: dict[str, tuple[int, ...]] = {}
        # id → its place (one shared string per place) and position: what near() measures, and
        # how to find the id again to drop it.
        self._where: dict[int, tuple[str, float | None, float | None]] = {}

    @classmethod
    def load(cls, connection: sa.Connection, radius_m: float) -> OpenIndex:
        """Every incident of the database that is not ended."""
        index = cls(radius_m)
        for incident_id, place, lat, lon in connection.execute(_not_ended):
            index.add(incident_id, place, lat, lon)
        return index

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, incident_id: int) -> bool:
        return incident_id in self._where

    def add(self, incident_id: int, place: str, lat: float | None, lon: float | None) -> None:
        # An id can come back: ids of a rolled-back transaction are given out again.
        self.discard(incident_id)
        place = sys.intern(place)
        if lat is None or lon is None:
            self._unplaced[place] = (*self._unplaced.get(place, ()), incident_id)
            self._where[incident_id] = (place, None, None)
            return
        cells = self._cells.setdefault(place, {})
        cell = self._cell(lat, lon)
        cells[cell] = (*cells.get(cell, ()), incident_id)
        self._where[incident_id] = (place, lat, lon)

    def discard(self, incident_id: int) -> None:
        where = self._where.pop(incident_id, None)
        if where is None:
            return
        place, lat, lon = where
        if lat is None or lon is None:
            _remove(self._unplaced, place, incident_id)
            return
        cells = self._cells[place]
        _remove(cells, self._cell(lat, lon), incident_id)
        if not cells:
            del self._cells[place]

    def discard_many(self, incident_ids: Iterable[int]) -> None:
        for incident_id in incident_ids:
            self.discard(incident_id)

    def near(self, place: str, lat: float | None, lon: float | None) -> list[int]:
        """The incidents of `place` an alert there may join: within the radius, or without a position.

        Without the alert's position every incident of the place is one (as in Candidates.find).
        """
        found = list(self._unplaced.get(place, ()))
        cells = self._cells.get(place)
        if not cells:
            return found
        if lat is None or lon is None:
            found.extend(incident_id for cell in cells.values() for incident_id in cell)
            return found
        where = self._where
        for cell in self._cells_around(cells, lat, lon):
            for incident_id in cell:
                _, at_lat, at_lon = where[incident_id]
                assert at_lat is not None and at_lon is not None  # in a cell: it has a position
                if distance_m(lat, lon, at_lat, at_lon) <= self._radius_m:
                    found.append(incident_id)
        return found

    def _cell(self, lat: float, lon: float) -> Cell:
        return _cell_key(math.floor(lat / self._cell_deg), math.floor(lon / self._cell_deg))

    def _cells_around(
        self, cells: dict[Cell, tuple[int, ...]], lat: float, lon: float
    ) -> Iterator[tuple[int, ...]]:
        """The cells of the radius' bounding box, or all of them where that box would not be small."""
        dlat = self._radius_m / METERS_PER_DEGREE
        widest = min(abs(lat) + dlat, 90.0)
        cos = math.cos(math.radians(widest))
        dlon = dlat / cos * 1.01 if cos > 1e-3 else 360.0  # 1 %: the small-angle bound, with room
        rows = range(math.floor((lat - dlat) / self._cell_deg), math.floor((lat + dlat) / self._cell_deg) + 1)
        columns = range(
            math.floor((lon - dlon) / self._cell_deg), math.floor((lon + dlon) / self._cell_deg) + 1
        )
        # Near a pole or the antimeridian the box wraps: every cell of the place, as a scan would.
        if lon - dlon < -180.0 or lon + dlon > 180.0 or len(rows) * len(columns) > len(cells):
            yield from cells.values()
            return
        for row in rows:
            for column in columns:
                cell = cells.get(_cell_key(row, column))
                if cell is not None:
                    yield cell


def _cell_key(row: int, column: int) -> Cell:
    return (row << 32) + column  # |column| < 2³¹: a cell is at least 2 m wide


def _remove(groups: dict[K, tuple[int, ...]], key: K, incident_id: int) -> None:
    """Take the id out of its group, and the group out once empty."""
    group = tuple(each for each in groups[key] if each != incident_id)
    if group:
        groups[key] = group
    else:
        del groups[key]
