"""Geometry: WGS-84 points and GeoJSON polygons of config.yaml, with their own checks, and distances."""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cached_property
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry


class Strict(BaseModel):
    """A config model: unknown keys are refused and nothing changes after parsing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Polygons are drawn by hand and rounded: a point or edge this close (degrees, ~10 cm) still
# counts as inside, and siblings may overlap by this much area (square degrees, ~10 m²).
CONTAINMENT_TOLERANCE = 1e-6
OVERLAP_TOLERANCE = 1e-9


class Position(Strict):
    """A WGS-84 point."""

    model_config = ConfigDict(strict=True)  # numbers only: "28.1" and true are no latitude

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees.")


class GeoPolygon(Strict):
    """A GeoJSON Polygon or MultiPolygon; coordinates are [lon, lat]."""

    type: str = Field(pattern="^(Polygon|MultiPolygon)$", description="GeoJSON geometry type.")
    coordinates: list[Any] = Field(description="GeoJSON coordinates, [lon, lat] pairs.")

    @cached_property
    def geometry(self) -> BaseGeometry:
        return shape(self.model_dump())

    @cached_property
    def tolerant_geometry(self) -> BaseGeometry:
        return self.geometry.buffer(CONTAINMENT_TOLERANCE)

    def covers(self, other: BaseGeometry) -> bool:
        """Whether `other` lies inside, give or take the containment tolerance."""
        return bool(self.tolerant_geometry.contains(other))

    def contains_position(self, position: Position) -> bool:
        return self.covers(Point(position.lon, position.lat))

    @field_validator("coordinates")
    @classmethod
    def _positions_in_range(cls, coordinates: list[Any]) -> list[Any]:
        for path, position in _positions(coordinates, ()):
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                where = ".".join(str(index) for index in path)
                raise ValueError(
                    f"position {where} {position!r} is out of range (lon -180..180, lat -90..90); "
                    "GeoJSON writes [lon, lat], longitude first"
                )
        return coordinates

    @model_validator(mode="after")
    def _valid_shape(self) -> Self:
        try:
            geometry = self.geometry
        except Exception as err:  # shapely raises several types for malformed rings
            raise ValueError(f"malformed {self.type}: {err}") from err
        if geometry.is_empty or not geometry.is_valid:
            raise ValueError("polygon is empty or self-intersecting")
        return self


def _positions(value: Any, path: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], list[float]]]:
    """Every [lon, lat, ...] position nested in GeoJSON coordinates, with its index path."""
    if not isinstance(value, list):
        return
    if len(value) >= 2 and all(_is_number(item) for item in value):
        yield path, value
        return
    for index, item in enumerate(value):
        yield from _positions(item, (*path, index))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); plenty for a city-sized area."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
