"""The S3 storm's plan (bench/workloads/storm.py): its shape, and bodies the real gateways accept."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest
from pydantic import TypeAdapter

from bench.harness import CONFIG
from bench.workloads.city import METERS_PER_DEGREE
from bench.workloads.storm import (
    ALARM,
    ALERTMANAGER_PATH,
    CALL,
    HOTLINE_PATH,
    RECEIVER,
    REFIRE,
    REPEAT,
    RESOLVE,
    SENSORS_PER_SITE,
    SITE_RADIUS_M,
    Bodies,
    Plan,
    Shape,
)
from dispatch.config.model import load_config
from gateways import alertmanager, hotline

SMALL = Shape(sensors=400, alarms=250, burst_alarms=200, burst_seconds=2.0, seconds=12.0)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(CONFIG, SMALL, seed=7)


def test_the_storm_has_its_shape(plan: Plan) -> None:
    counts = plan.counts()
    assert len(plan.sensors) == 400
    assert counts == {ALARM: 250, REPEAT: 50, RESOLVE: 24, REFIRE: 24, CALL: 10}
    alarms = [message for message in plan.messages if message.kind == ALARM]
    assert len({message.target for message in alarms}) == 250, "every alarm is a sensor starting to fire"
    assert sum(message.at < SMALL.burst_seconds for message in alarms) == 200
    assert all(message.at < SMALL.seconds for message in alarms)
    assert plan.messages == sorted(plan.messages)
    calls = [message.at for message in plan.messages if message.kind == CALL]
    assert calls == [number * 60 / SMALL.calls_per_minute for number in range(10)]


def test_repeats_and_flaps_follow_their_alarm(plan: Plan) -> None:
    kinds: dict[int, list[str]] = defaultdict(list)
    for message in plan.messages:
        if message.kind != CALL:
            kinds[message.target].append(message.kind)
    shapes = Counter(tuple(each) for each in kinds.values())
    assert shapes == {
        (ALARM,): 250 - 50 - 12,
        (ALARM, REPEAT): 50,
        (ALARM, RESOLVE, REFIRE, RESOLVE, REFIRE): 12,
    }


def test_sensors_stand_at_sites(plan: Plan) -> None:
    sites: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for sensor in plan.sensors:
        sites[sensor.site].append((sensor.lat, sensor.lon))
    assert set(map(len, sites.values())) == {SENSORS_PER_SITE}
    assert len({(sensor.site, sensor.category) for sensor in plan.sensors}) == len(sites)
    for points in sites.values():
        lats = [lat for lat, _ in points]
        assert (max(lats) - min(lats)) * METERS_PER_DEGREE <= 2 * SITE_RADIUS_M + 1


def test_the_bodies_are_what_the_gateways_accept(plan: Plan) -> None:
    config = load_config(CONFIG)
    bodies = Bodies(plan)
    webhooks = TypeAdapter(alertmanager.AlertmanagerWebhook)
    seen = Counter[str]()
    for message in plan.messages:
        path, body = bodies.body(message)
        if message.kind == CALL:
            assert path == HOTLINE_PATH
            call = TypeAdapter(hotline.CallEntry).validate_python(orjson.loads(body))
            assert ("hotline", call.call_id) == bodies.key(message)
            seen[CALL] += 1
            continue
        assert path == ALERTMANAGER_PATH
        [notice] = alertmanager.translate(webhooks.validate_python(orjson.loads(body)), config)
        assert (notice.source, notice.source_event_id) == (RECEIVER, bodies.key(message)[1])
        assert (notice.alert is None) == (message.kind == RESOLVE)
        if notice.alert is not None:
            sensor = plan.sensors[message.target]
            assert notice.alert.category == sensor.category
            assert notice.alert.severity == 3
        seen[message.kind] += 1
    assert seen == plan.counts()
