"""The open-incident index: it never leaves out an incident an alert may join, and forgets ended ones."""

from __future__ import annotations

import random

import pytest

from dispatch.intake.alerts import AlertIn
from dispatch.intake.correlation import SWEEP_EVERY_S, place_key
from dispatch.intake.open_index import OpenIndex
from dispatch.intake.pipeline import IntakeItem
from dispatch.shared.geo import distance_m
from dispatch.storage.tables import incident_table
from dispatch.storage.writer import Tx
from tests.dispatch.core.harness import Desk
from tests.factories import EAST_N, WEST_N, alert, make_config

CONFIG = make_config()
RADIUS = CONFIG.correlation.radius_m
PLACE = place_key("waterlogging", "west-n")


def test_index_gives_what_lies_within_the_radius_and_what_has_no_position() -> None:
    index = OpenIndex(RADIUS)
    index.add(1, PLACE, 28.1505, 112.1)  # about 55 m
    index.add(2, PLACE, 28.16, 112.1)  # about 1.1 km
    index.add(3, PLACE, None, None)
    index.add(4, place_key("fire", "west-n"), 28.15, 112.1)

    assert sorted(index.near(PLACE, 28.15, 112.1)) == [1, 3]
    assert sorted(index.near(PLACE, None, None)) == [1, 2, 3]


def test_index_forgets_and_moves_an_id_given_again() -> None:
    index = OpenIndex(RADIUS)
    index.add(1, PLACE, 28.15, 112.1)
    index.add(1, PLACE, 28.3, 112.1)  # a rolled-back pass's id given to another incident
    index.add(2, PLACE, None, None)

    assert index.near(PLACE, 28.15, 112.1) == [2]
    index.discard_many([1, 2, 99])
    assert len(index) == 0
    assert index.near(PLACE, 28.3, 112.1) == []


@pytest.mark.parametrize("latitude", [0.0, 28.6, 59.9, 78.2, -45.0])
def test_index_leaves_out_nothing_a_scan_would_find(latitude: float) -> None:
    rng = random.Random(latitude)
    index = OpenIndex(RADIUS)
    points = {}
    for incident_id in range(2000):
        lat = latitude + rng.uniform(-0.05, 0.05)
        lon = 100.0 + rng.uniform(-0.05, 0.05)
        points[incident_id] = (lat, lon)
        index.add(incident_id, PLACE, lat, lon)
    for _ in range(300):
        lat, lon = latitude + rng.uniform(-0.05, 0.05), 100.0 + rng.uniform(-0.05, 0.05)
        scan = {i for i, (a, b) in points.items() if distance_m(lat, lon, a, b) <= RADIUS}

        assert scan <= set(index.near(PLACE, lat, lon))


def test_index_across_the_antimeridian_finds_the_other_side() -> None:
    index = OpenIndex(RADIUS)
    index.add(1, PLACE, 10.0, -179.9995)

    assert index.near(PLACE, 10.0, 179.9995) == [1]


async def test_index_a_reopened_incident_is_joined_again(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    await desk.trigger(first.incident_id, "resolve", reason="dry again")
    await desk.trigger(first.incident_id, "reopen", reason="wet again")

    [second] = await desk.receive(alert("e2", location=WEST_N, source="gauge-2"))

    assert second.incident_id == first.incident_id


async def test_index_a_cancelled_incident_is_forgotten_and_never_joined(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    await desk.trigger(first.incident_id, "cancel", reason="false alarm")

    [second] = await desk.receive(alert("e2", location=WEST_N, source="gauge-2"))
    [third] = await desk.receive(alert("e3", location=WEST_N, source="gauge-3"))

    assert second.incident_id != first.incident_id
    assert third.incident_id == second.incident_id
    index = desk.service.intake.correlator.index
    assert index is not None and first.incident_id not in index


async def test_index_an_incident_of_a_rolled_back_pass_is_never_joined(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=EAST_N))
    intake = desk.service.intake

    body = alert("e2", location=WEST_N, source="gauge-9")
    item = IntakeItem(AlertIn.model_validate(body), "{}", "gateway:test")

    def opens_then_fails(tx: Tx) -> None:
        intake.receive_many(tx, [item])
        raise RuntimeError("the command fails after intake ran")

    ok, _ = await desk.run(lambda tx: tx.isolated(opens_then_fails))
    [second] = await desk.receive(alert("e3", location=WEST_N, source="gauge-2"))

    assert not ok
    assert second.incident_id != first.incident_id
    stored = await desk.run(lambda tx: tx.connection.execute(incident_table.select()).all())
    assert sorted(row.id for row in stored) == sorted({first.incident_id, second.incident_id})


async def test_index_is_built_from_the_database_at_start(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    correlator = desk.service.intake.correlator
    await desk.run(correlator.rebuild)

    [second] = await desk.receive(alert("e2", location=WEST_N, source="gauge-2"))

    assert second.incident_id == first.incident_id
    assert correlator.index is not None and len(correlator.index) == 1


async def test_index_a_later_pass_of_one_transaction_joins_what_an_earlier_one_opened(desk: Desk) -> None:
    intake = desk.service.intake
    items = [
        IntakeItem(AlertIn.model_validate(alert(event, location=WEST_N, source=source)), "{}", "gateway:test")
        for event, source in (("e1", "gauge-1"), ("e2", "gauge-2"))
    ]

    first, second = await desk.run(lambda tx: [intake.receive_many(tx, [item])[0] for item in items])

    assert second.incident_id == first.incident_id


async def test_index_drops_what_ended_elsewhere_once_a_minute(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    await desk.trigger(first.incident_id, "cancel", reason="false alarm")
    index = desk.service.intake.correlator.index
    assert index is not None and first.incident_id in index

    desk.clock.advance(SWEEP_EVERY_S)
    await desk.receive(alert("e2", location=EAST_N, source="gauge-2"))

    assert first.incident_id not in index
