"""Where simulated things are: points inside jurisdictions, stable per device, and the gauged waters."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from shapely.geometry import Point as ShapelyPoint
from shapely.geometry.base import BaseGeometry

from dispatch.config.model import Config, Jurisdiction, Tier

METRES_PER_DEGREE = 111_320.0
URBAN_SUFFIX = "街道"
"""A town-tier node named …街道 is a subdistrict of the urban core: denser, busier streets."""


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class GaugeSite:
    """A water-level station of the flood-control office (警戒/保证水位 in metres, 吴淞 datum)."""

    id: str
    name: str
    water: str
    jurisdiction: str
    warning_m: float
    guarantee_m: float


# Yuanjiang's lake and river stations. Levels are plausible for the south shore of Dongting Lake
# but FICTITIOUS, like the rest of the sample; a station whose jurisdiction the config lacks is
# left out.
GAUGE_SITES: tuple[GaugeSite, ...] = (
    GaugeSite("gauge-wanzihu-1", "万子湖水位站", "南洞庭湖·万子湖", "sihushan-wanzihu", 33.00, 35.10),
    GaugeSite("gauge-nandongting-1", "大西港水位站", "南洞庭湖", "yangluozhou-daxigang", 33.00, 35.00),
    GaugeSite("gauge-nandongting-2", "东红水位站", "南洞庭湖", "sijihong-donghong", 33.10, 35.10),
    GaugeSite("gauge-mupinghu-1", "北河口水位站", "目平湖", "nanzui-beihekou", 33.50, 35.50),
    GaugeSite("gauge-yuanshui-1", "蒋家嘴水位站", "沅水", "huangmaozhou-jiangjiazui", 34.00, 36.00),
    GaugeSite("gauge-caoweihe-1", "上码头水位站", "草尾河", "caowei-shangmatou", 33.50, 35.30),
    GaugeSite("gauge-zishui-1", "白沙水位站", "资水", "yanzhihu-baisha", 33.80, 35.80),
    GaugeSite("gauge-dongnanhu-1", "东南湖水位站", "东南湖", "nandashan-dongnanhu", 32.80, 34.60),
    GaugeSite("gauge-qionghu-3", "琼湖水位站", "琼湖", "qionghu-jintaiyang", 32.50, 34.00),
)


def streets(config: Config) -> list[Jurisdiction]:
    return [node for node in config.jurisdictions if node.tier == Tier.STREET]


def towns(config: Config) -> list[Jurisdiction]:
    return [node for node in config.jurisdictions if node.tier == Tier.TOWN]


def is_urban(config: Config, node: Jurisdiction) -> bool:
    return config.ancestor_at(node.id, Tier.TOWN).name.endswith(URBAN_SUFFIX)


def place_name(config: Config, node: Jurisdiction) -> str:
    """沙港村 → 新湾镇沙港村: how a caller or a station names the place."""
    town = config.ancestor_at(node.id, Tier.TOWN)
    return node.name if town.id == node.id else f"{town.name}{node.name}"


def inside(config: Config, node: Jurisdiction, point: Point) -> bool:
    """Strictly inside both the node and the city: never on a shared edge or a rim sliver."""
    spot = ShapelyPoint(point.lon, point.lat)
    return bool(node.polygon.geometry.contains(spot) and config.root.polygon.geometry.contains(spot))


def sample_point(config: Config, node: Jurisdiction, rng: random.Random) -> Point:
    """A uniformly drawn point inside the node's polygon (and the city's)."""
    geometry: BaseGeometry = node.polygon.geometry
    west, south, east, north = geometry.bounds
    for _ in range(10_000):
        point = Point(round(rng.uniform(south, north), 6), round(rng.uniform(west, east), 6))
        if inside(config, node, point):
            return point
    # Only a sliver of a polygon would get here; its center is inside by config validation.
    return Point(node.center.lat, node.center.lon)


def stable_point(config: Config, node: Jurisdiction, key: str) -> Point:
    """The same point for the same device on every run, whatever the seed: devices do not move."""
    return sample_point(config, node, random.Random(key))


def near(config: Config, node: Jurisdiction, origin: Point, metres: float, rng: random.Random) -> Point:
    """A point within `metres` of `origin`, still inside the node (callers of one event stand close)."""
    for _ in range(200):
        distance = metres * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        point = offset(origin, distance * math.cos(bearing), distance * math.sin(bearing))
        if inside(config, node, point):
            return point
    return origin


def offset(origin: Point, north_m: float, east_m: float) -> Point:
    lat = origin.lat + north_m / METRES_PER_DEGREE
    lon = origin.lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(origin.lat)))
    return Point(round(lat, 6), round(lon, 6))


def distance_m(a: Point, b: Point) -> float:
    north = (b.lat - a.lat) * METRES_PER_DEGREE
    east = (b.lon - a.lon) * METRES_PER_DEGREE * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(north, east)


def toward(origin: Point, target: Point, share: float) -> Point:
    """The point `share` (0..1) of the way from origin to target."""
    return Point(
        round(origin.lat + (target.lat - origin.lat) * share, 6),
        round(origin.lon + (target.lon - origin.lon) * share, 6),
    )
