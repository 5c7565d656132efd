"""The flood-day scenario as pure data: deterministic, complete, valid, inside the city."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from shapely.geometry import Point as ShapelyPoint

from dispatch.config.model import Config, load_config
from dispatch.intake.alerts import AlertIn
from dispatch.simulate.devices import sensor_alert
from dispatch.simulate.gateways import frigate_event, hotline_entry
from dispatch.simulate.happenings import FrigateMessage, Happening, HotlineCall, Origin, SensorReading
from dispatch.simulate.places import distance_m
from dispatch.simulate.scenario import EPISODE_S, FloodDay
from gateways import frigate, hotline
from tests.factories import make_config

CONFIG = Path(__file__).parents[2] / "config.yaml"
EPOCH = 1_790_000_000.0
TWO_HOURS = 2 * EPISODE_S


@pytest.fixture(scope="module")
def yuanjiang() -> Config:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def day(yuanjiang: Config) -> list[Happening]:
    return FloodDay(yuanjiang, 42, focus="qingyunshan-heping").until(TWO_HOURS)


def _epoch(at: float) -> float:
    return EPOCH + at


def _alert(happening: Happening, config: Config) -> AlertIn | None:
    """What the server makes of it, through the gateways' own translate functions."""
    if isinstance(happening, SensorReading):
        return AlertIn.model_validate(sensor_alert(happening, _epoch(happening.at)))
    if isinstance(happening, FrigateMessage):
        event = frigate.FrigateEvent.model_validate(frigate_event(happening, _epoch))
        return frigate.translate(event, config, _epoch(happening.at))
    call = hotline.CallEntry.model_validate(hotline_entry(happening, _epoch(happening.at)))
    return hotline.translate(call, config)


async def test_simulate_scenario_same_seed_same_day(yuanjiang: Config, day: list[Happening]) -> None:
    again = FloodDay(yuanjiang, 42, focus="qingyunshan-heping").until(TWO_HOURS)
    other = FloodDay(yuanjiang, 43, focus="qingyunshan-heping").until(TWO_HOURS)

    assert again == day
    assert other != day


async def test_simulate_scenario_is_in_time_order_across_episodes(day: list[Happening]) -> None:
    times = [happening.at for happening in day]
    assert times == sorted(times)
    assert times[0] < 10.0  # something happens at once
    assert any(EPISODE_S <= at < TWO_HOURS for at in times)


async def test_simulate_scenario_covers_every_generator(day: list[Happening]) -> None:
    assert {happening.origin for happening in day} == set(Origin)
    first_minute = {happening.origin for happening in day if happening.at < 60.0}
    assert {Origin.GAUGE, Origin.WATERLOGGING, Origin.SMOKE, Origin.HOTLINE, Origin.FOCUS} <= first_minute


async def test_simulate_scenario_alerts_are_valid_and_inside_the_city(
    yuanjiang: Config, day: list[Happening]
) -> None:
    city = yuanjiang.root.polygon.geometry
    categories: set[str] = set()
    sightings: dict[tuple[Origin, str], int] = defaultdict(int)
    for happening in day:
        alert = _alert(happening, yuanjiang)
        if isinstance(happening, FrigateMessage):
            # Frigate's first messages of an object may be below the score or outside the zone;
            # a real sighting turns into an alert on the way, a shadow never does.
            sightings[happening.origin, happening.object_key] += alert is not None
        if alert is None:
            assert isinstance(happening, FrigateMessage)
            continue
        assert alert.category in yuanjiang.category_by_id
        assert alert.location is not None
        assert city.contains(ShapelyPoint(alert.location.lon, alert.location.lat)), happening
        categories.add(alert.category)
    assert all(alerts > 0 for (origin, _), alerts in sightings.items() if origin == Origin.CAMERA)
    assert all(alerts == 0 for (origin, _), alerts in sightings.items() if origin == Origin.CAMERA_NOISE)
    assert {"water_level_warning", "waterlogging", "smoke", "gas_leak", "person_in_water"} <= categories
    assert {"illegal_fishing", "illegal_vending", "fire", "medical_emergency"} <= categories


async def test_simulate_scenario_gauges_rise_through_warning_then_guarantee(day: list[Happening]) -> None:
    readings: dict[str, list[SensorReading]] = defaultdict(list)
    for happening in day:
        if isinstance(happening, SensorReading) and happening.origin == Origin.GAUGE:
            readings[happening.source].append(happening)

    assert len(readings) >= 8
    for series in readings.values():
        for reading in series:
            level, attributes = reading.attributes["level_m"], reading.attributes
            assert level > attributes["warning_m"]
            assert reading.severity == (2 if level >= attributes["guarantee_m"] else 3)
        assert len({reading.sequence for reading in series}) == len(series)
    crossed = [series for series in readings.values() if any(r.severity == 2 for r in series)]
    assert crossed, "some station reaches its guarantee level (保证水位): severity II"
    first = crossed[0]
    assert first[0].severity == 3 and first[0].attributes["trend"] in ("steady", "rising")


async def test_simulate_scenario_hotline_events_have_two_to_four_callers(
    yuanjiang: Config, day: list[Happening]
) -> None:
    events: dict[int, list[HotlineCall]] = defaultdict(list)
    for happening in day:
        if isinstance(happening, HotlineCall) and happening.origin == Origin.HOTLINE:
            events[happening.event].append(happening)

    assert len(events) > 50
    radius = yuanjiang.correlation.radius_m
    for calls in events.values():
        assert 2 <= len(calls) <= 4
        assert len({call.category for call in calls}) == 1
        assert len({call.caller_number for call in calls}) == len(calls)
        assert len({call.statement for call in calls}) == len(calls)
        assert all(distance_m(calls[0].point, call.point) <= radius for call in calls)
        assert calls[-1].at - calls[0].at <= 240.0


async def test_simulate_scenario_frigate_objects_run_new_updates_end(day: list[Happening]) -> None:
    objects: dict[str, list[FrigateMessage]] = defaultdict(list)
    for happening in day:
        if isinstance(happening, FrigateMessage):
            objects[happening.object_key].append(happening)

    cameras = {messages[0].camera for messages in objects.values()}
    assert cameras == {"qionghu_wharf", "qingyunshan_market", "wanzihu_lake"}
    for messages in objects.values():
        kinds = [message.type for message in messages]
        assert kinds[0] == "new" and kinds[-1] == "end" and 2 <= kinds.count("update") <= 5
        assert messages[-1].after.ended_at is not None and messages[-1].after.has_clip


async def test_simulate_scenario_uses_only_what_the_config_has() -> None:
    config = make_config()  # a test city: two towns, waterlogging and vending only, no cameras

    happenings = FloodDay(config, 1).until(EPISODE_S)

    assert happenings
    assert {h.category for h in happenings if not isinstance(h, FrigateMessage)} <= {
        "waterlogging",
        "vending",
    }
    assert not any(isinstance(h, FrigateMessage) for h in happenings)
    for happening in itertools.islice(happenings, 200):
        assert _alert(happening, config) is not None


async def test_simulate_scenario_of_a_config_it_cannot_use_is_empty_not_endless() -> None:
    vending = make_config().categories[1]
    assert vending.id == "vending"  # no story, sensor or camera of the flood day has it

    assert list(FloodDay(make_config(categories=[vending.model_dump()]), 1).happenings()) == []


async def test_simulate_scenario_a_levee_pipes_within_four_minutes_at_severity_two(
    day: list[Happening],
) -> None:
    """The flood day's piping behind an embankment: severity II (the critical ladder, and the
    prefecture link when one is configured), readings climbing from one seepage monitor."""
    piping = [h for h in day if isinstance(h, SensorReading) and h.origin == Origin.LEVEE]
    first = [h for h in piping if h.source == piping[0].source and h.at < piping[0].at + 600]

    assert 200.0 <= piping[0].at <= 240.0
    assert {h.category for h in piping} == {"embankment_seepage"}
    assert {h.severity for h in piping} == {2}
    assert "管涌" in piping[0].title
    assert [h.attributes["flow_l_s"] for h in first] == sorted(h.attributes["flow_l_s"] for h in first)
