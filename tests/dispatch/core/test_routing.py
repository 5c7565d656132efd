"""Routing: the deepest jurisdiction containing a point, and great-circle distances."""

from __future__ import annotations

import pytest

from dispatch.core.routing import Router
from dispatch.shared.geo import distance_m
from tests.factories import EAST_N, OUTSIDE, WEST_N, WEST_S, make_config

ROUTER = Router(make_config())


@pytest.mark.parametrize(
    ("point", "expected"),
    [(WEST_N, "west-n"), (WEST_S, "west-s"), (EAST_N, "east-n"), (OUTSIDE, None)],
)
def test_routing_locate_finds_the_deepest_node(point: dict[str, float], expected: str | None) -> None:
    found = ROUTER.locate(point["lat"], point["lon"])

    assert (found.id if found else None) == expected


def test_routing_locate_many_answers_each_point_in_order() -> None:
    points = [(p["lat"], p["lon"]) for p in (EAST_N, OUTSIDE, WEST_N)]

    found = ROUTER.locate_many(points)

    assert [node.id if node else None for node in found] == ["east-n", None, "west-n"]
    assert ROUTER.locate_many([]) == []


def test_routing_distance_is_symmetric_and_about_111_km_a_degree_of_latitude() -> None:
    assert distance_m(28.0, 112.0, 28.0, 112.0) == 0.0
    assert distance_m(28.0, 112.0, 29.0, 112.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(28.1, 112.1, 28.2, 112.3) == pytest.approx(distance_m(28.2, 112.3, 28.1, 112.1))
