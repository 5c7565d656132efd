"""Correlation: which open incident an alert joins, by signal, place, distance and time."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn
from dispatch.intake.correlation import Candidate, Candidates, Placed, place_key
from tests.dispatch.core.harness import Desk
from tests.factories import WEST_N, alert, make_config

CONFIG: Config = make_config()
NOW = 10_000.0


def _alert(**fields: object) -> AlertIn:
    return AlertIn.model_validate_json(orjson.dumps(alert("e1", **fields)))


def _candidate(incident_id: int, lat: float | None, lon: float | None, **fields: Any) -> Candidate:
    """An open waterlogging incident of west-n that saw an alert just now, with `fields` changed."""
    fresh = Candidate(
        id=incident_id,
        category="waterlogging",
        jurisdiction_id="west-n",
        place=place_key("waterlogging", "west-n"),
        state="dispatched",
        lat=lat,
        lon=lon,
        severity=3,
        alert_count=1,
        last_alert_at=NOW,
        updated_at=NOW,
        policy_name="standard",
    )
    return dataclasses.replace(fresh, **fields)


def _candidates(*rows: Candidate) -> Candidates:
    candidates = Candidates(CONFIG, NOW)
    for row in rows:
        candidates.add(row)
    return candidates


WEST_N_NODE = Placed(CONFIG.jurisdiction_by_id["west-n"], False)


def test_correlation_the_nearest_open_incident_of_the_place_within_the_radius() -> None:
    far = _candidate(1, 28.152, 112.1)  # about 220 m
    near = _candidate(2, 28.1505, 112.1)  # about 55 m

    assert _candidates(far, near).find(_alert(location=WEST_N), WEST_N_NODE) is near


def test_correlation_beyond_the_radius_or_closed_or_stale_joins_nothing() -> None:
    beyond = _candidate(1, 28.16, 112.1)  # about 1.1 km
    closed = _candidate(2, 28.15, 112.1, state="resolved")
    stale = _candidate(3, 28.15, 112.1, last_alert_at=NOW - CONFIG.correlation.window - 1)

    assert _candidates(beyond, closed, stale).find(_alert(location=WEST_N), WEST_N_NODE) is None


def test_correlation_without_positions_the_same_place_is_enough() -> None:
    known_by_place = _candidate(1, None, None)

    found = _candidates(known_by_place).find(_alert(location=None, jurisdiction="west-n"), WEST_N_NODE)

    assert found is known_by_place


def test_correlation_the_same_signal_joins_its_last_incident_even_in_another_place() -> None:
    candidates = _candidates()
    remembered = _candidate(7, 28.1501, 112.1, place=place_key("waterlogging", "west"))
    candidates.by_signal[("gauge-1", "waterlogging")] = remembered

    assert candidates.find(_alert(location=WEST_N), WEST_N_NODE) is remembered


async def test_correlation_a_resolved_incident_is_not_joined_again(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    await desk.trigger(first.incident_id, "resolve", reason="dry again")

    [second] = await desk.receive(alert("e2", location=WEST_N))

    assert second.incident_id != first.incident_id
    assert (await desk.incident(second.incident_id)).state == "dispatched"


async def test_correlation_the_window_closes_after_the_last_alert(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N, source="gauge-1"))
    desk.clock.advance(CONFIG.correlation.window + 1)

    [late] = await desk.receive(alert("e2", location=WEST_N, source="gauge-2"))

    assert late.incident_id != first.incident_id
