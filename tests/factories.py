"""Small, predictable configurations for tests: a city, two towns, two streets each."""

from __future__ import annotations

from typing import Any

from dispatch.config.model import Config, parse_config


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def node(id: str, tier: str, parent: str | None, bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    west, south, east, north = bounds
    return {
        "id": id,
        "name": id.upper(),
        "tier": tier,
        "parent": parent,
        "center": {"lat": (south + north) / 2, "lon": (west + east) / 2},
        "polygon": box(*bounds),
    }


# The city spans lon 112.0–112.4, lat 28.0–28.2; town "east" and town "west" split it; each
# has a north and a south street.
JURISDICTIONS = [
    node("city", "city", None, (112.0, 28.0, 112.4, 28.2)),
    node("west", "town", "city", (112.0, 28.0, 112.2, 28.2)),
    node("east", "town", "city", (112.2, 28.0, 112.4, 28.2)),
    node("west-n", "street", "west", (112.0, 28.1, 112.2, 28.2)),
    node("west-s", "street", "west", (112.0, 28.0, 112.2, 28.1)),
    node("east-n", "street", "east", (112.2, 28.1, 112.4, 28.2)),
    node("east-s", "street", "east", (112.2, 28.0, 112.4, 28.1)),
]

# Points well inside each street.
WEST_N = {"lat": 28.15, "lon": 112.1}
WEST_S = {"lat": 28.05, "lon": 112.1}
EAST_N = {"lat": 28.15, "lon": 112.3}
OUTSIDE = {"lat": 30.0, "lon": 115.0}


def responder(
    id: str, jurisdiction: str, lat: float, lon: float, department: str | None = None
) -> dict[str, Any]:
    return {
        "id": id,
        "name": id,
        "jurisdiction": jurisdiction,
        "department": department,
        "skills": ["patrol", "flood_watch"],
        "home": {"lat": lat, "lon": lon},
    }


def config_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prefecture": {"id": "prefecture", "name": "Prefecture"},
        "correlation": {"radius_m": 300, "window": "30m"},
        "jurisdictions": JURISDICTIONS,
        "departments": [
            {"id": "flood", "name": "Flood control"},
            {"id": "urban", "name": "Urban management"},
        ],
        "policies": {
            "standard": {
                "steps": [
                    {"tier": "street", "accept_within": "60s", "responders": 1},
                    {"tier": "town", "accept_within": "120s", "responders": 1},
                    {"tier": "city", "accept_within": "180s", "responders": 1, "department_only": True},
                ]
            },
            "critical": {
                "notify_all_tiers": True,
                "notify_prefecture": True,
                "steps": [
                    {"tier": "town", "accept_within": "60s", "responders": 1},
                    {"tier": "city", "accept_within": "120s", "responders": 1},
                ],
            },
        },
        "categories": [
            {
                "id": "waterlogging",
                "name": "Waterlogging",
                "department": "flood",
                "default_severity": 3,
                "policy": "standard",
                "policy_by_severity": {1: "critical", 2: "critical"},
                "skills": ["flood_watch"],
            },
            {
                "id": "vending",
                "name": "Street vending",
                "department": "urban",
                "default_severity": 4,
                "policy": "standard",
                "skills": ["patrol"],
            },
        ],
        "responders": [
            responder("grid-west-n-1", "west-n", 28.16, 112.1),
            responder("grid-west-n-2", "west-n", 28.19, 112.19),
            responder("grid-west-s-1", "west-s", 28.05, 112.1),
            responder("grid-east-n-1", "east-n", 28.15, 112.3),
            responder("grid-east-s-1", "east-s", 28.05, 112.3),
            responder("duty-west-1", "west", 28.1, 112.1),
            responder("duty-east-1", "east", 28.1, 112.3),
            responder("flood-city-1", "city", 28.1, 112.2, department="flood"),
            responder("urban-city-1", "city", 28.1, 112.2, department="urban"),
        ],
    }
    data.update(overrides)
    return data


def make_config(**overrides: Any) -> Config:
    return parse_config(config_data(**overrides), "test config")


def alert(source_event_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "gauge-1",
        "source_event_id": source_event_id,
        "kind": "sensor",
        "category": "waterlogging",
        "location": WEST_N,
    }
    body.update(fields)
    return body
