"""Frigate NVR: `translate()` on recorded `frigate/events` payloads, the cooldown, the route."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from dispatch.alerts import AlertKind
from dispatch.config import Config
from gateways.frigate import (
    Cooldown,
    FrigateEvent,
    FrigateGateway,
    Ignored,
    IgnoredReason,
    Matched,
    interpret,
    translate,
)
from tests.conftest import Harness, ServerFactory
from tests.factories import WEST_N, make_config

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1_790_000_100.0
WATER = {"lat": 28.151, "lon": 112.101}

FRIGATE = {
    "min_score": 0.7,
    "cooldown": "5m",
    "cameras": {
        "wharf": {"location": WEST_N, "zones": {"water": {"location": WATER}}},
        "market": {"jurisdiction": "east-n"},
    },
    "rules": [
        {"label": "person", "zones": ["water"], "category": "waterlogging", "severity": 2},
        {"label": "car", "cameras": ["market"], "category": "vending", "min_score": 0.8},
    ],
}


def frigate_config() -> Config:
    return make_config(frigate=FRIGATE)


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((FIXTURES / f"frigate_{name}.json").read_bytes())
    return data


def event(name: str = "update", **after: Any) -> FrigateEvent:
    message = recorded(name)
    message["after"].update(after)
    return FrigateEvent.model_validate(message)


# translate() -----------------------------------------------------------------------------------


async def test_frigate_translate_person_in_water_zone_is_one_alert_keyed_by_object() -> None:
    alert = translate(event("update"), frigate_config(), NOW)

    assert alert is not None
    assert alert.source == "frigate:wharf"
    assert alert.source_event_id == "1790000000.475377-mxklsc"
    assert alert.kind == AlertKind.VIDEO
    assert alert.category == "waterlogging"
    assert alert.severity == 2
    assert alert.location is not None and (alert.location.lat, alert.location.lon) == (28.151, 112.101)
    assert alert.observed_at is not None and alert.observed_at.timestamp() == pytest.approx(1790000000.475377)
    assert alert.attributes["frigate"]["zones"] == ["water", "quay"]
    assert alert.attributes["frigate"]["has_snapshot"] is True


async def test_frigate_translate_every_message_of_one_object_has_the_same_key() -> None:
    config = frigate_config()
    keys = {
        (alert.source, alert.source_event_id)
        for name in ("update", "end")
        if (alert := translate(event(name), config, NOW)) is not None
    }
    assert keys == {("frigate:wharf", "1790000000.475377-mxklsc")}


@pytest.mark.parametrize(
    ("name", "after", "reason"),
    [
        ("false_positive", {}, IgnoredReason.FALSE_POSITIVE),
        ("update", {"camera": "garage"}, IgnoredReason.UNMAPPED_CAMERA),
        ("update", {"label": "dog"}, IgnoredReason.UNMAPPED_LABEL),
        ("new", {}, IgnoredReason.UNMAPPED_LABEL),  # still on the quay: not yet in the water
        ("update", {"top_score": 0.5, "score": 0.4}, IgnoredReason.BELOW_MIN_SCORE),
        ("update", {"camera": "market", "label": "car", "top_score": 0.75}, IgnoredReason.BELOW_MIN_SCORE),
    ],
)
async def test_frigate_translate_ignores_what_stands_for_no_alert(
    name: str, after: dict[str, Any], reason: IgnoredReason
) -> None:
    message = event(name, **after)
    assert interpret(message, frigate_config(), NOW) == Ignored(reason)
    assert translate(message, frigate_config(), NOW) is None


async def test_frigate_translate_uses_the_camera_place_without_a_zone_place() -> None:
    alert = translate(event(camera="market", label="car", top_score=0.9), frigate_config(), NOW)
    assert alert is not None
    assert alert.category == "vending"
    assert alert.jurisdiction == "east-n" and alert.location is None


async def test_frigate_translate_never_dates_an_alert_after_now() -> None:
    alert = translate(event(start_time=NOW + 3600), frigate_config(), NOW)
    assert alert is not None and alert.observed_at is not None
    assert alert.observed_at.timestamp() == NOW


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "update"}, "after"),
        ({"type": "appear", "after": recorded("update")["after"]}, "type"),
        ({"type": "update", "after": "person"}, "after"),
        ({"type": "update", "after": {**recorded("update")["after"], "score": "high"}}, "after.score"),
        (
            {"type": "update", "after": {**recorded("update")["after"], "start_time": "noon"}},
            "after.start_time",
        ),
        (
            {"type": "update", "after": {**recorded("update")["after"], "current_zones": "water"}},
            "after.current_zones",
        ),
    ],
)
async def test_frigate_malformed_messages_name_the_field(message: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as raised:
        FrigateEvent.model_validate(message)
    first = raised.value.errors()[0]  # type: ignore[attr-defined]
    assert ".".join(str(part) for part in first["loc"]) == field


# The cooldown ---------------------------------------------------------------------------------


def second_object(**after: Any) -> FrigateEvent:
    return event(**{"id": "1790000050.000001-second", "start_time": 1790000050.0, **after})


async def test_frigate_cooldown_holds_back_other_objects_of_a_camera_zone_label() -> None:
    gateway = FrigateGateway.create(frigate_config())

    first = gateway.take(event(), NOW)
    repeat = gateway.take(event(), NOW + 200)
    within = gateway.take(second_object(), NOW + 60)
    after = gateway.take(second_object(id="third"), NOW + 300)

    assert not isinstance(first, Ignored) and first.source_event_id == "1790000000.475377-mxklsc"
    assert not isinstance(repeat, Ignored)  # the same object keeps passing: a duplicate at intake
    assert within == Ignored(IgnoredReason.COOLDOWN)
    assert not isinstance(after, Ignored) and after.source_event_id == "third"
    assert gateway.ignored[IgnoredReason.COOLDOWN] == 1


async def test_frigate_cooldown_is_per_camera_zone_and_label() -> None:
    gateway = FrigateGateway.create(frigate_config())
    assert not isinstance(gateway.take(event(), NOW), Ignored)
    other_camera = gateway.take(second_object(camera="market", label="car", top_score=0.9), NOW + 1)
    assert not isinstance(other_camera, Ignored)


async def test_frigate_cooldown_forgets_the_oldest_objects_beyond_its_bound() -> None:
    cooldown = Cooldown(seconds=0.001, max_objects=2)
    config = frigate_config()
    for number in range(3):
        matched = interpret(event(id=f"object-{number}"), config, NOW)
        assert isinstance(matched, Matched)
        assert cooldown.admit(matched, NOW + number)
    assert len(cooldown._admitted) == 2


# The route ------------------------------------------------------------------------------------


async def post(server: Harness, body: Any, *, raw: bytes | None = None) -> tuple[int, Any]:
    response = await server.client.post(
        "/api/v1/alerts/frigate",
        data=raw if raw is not None else orjson.dumps(body),
        headers={**server.auth("gateway"), "Content-Type": "application/json"},
    )
    return response.status, await response.json()


@pytest.fixture
async def frigate_server(make_server: ServerFactory) -> Harness:
    return await make_server(frigate_config())


async def test_frigate_flood_of_one_object_is_one_alert_one_incident(frigate_server: Harness) -> None:
    """200 updates of one object within 10 s of its own timestamps."""
    base = recorded("update")
    answers = []
    for number in range(200):
        message = copy.deepcopy(base)
        message["after"]["frame_time"] = base["after"]["start_time"] + number * 0.05
        message["after"]["score"] = 0.7 + (number % 30) / 100
        status, answer = await post(frigate_server, message)
        assert status == 202, answer
        answers.append(answer)

    assert answers[0]["duplicate"] is False
    assert all(answer["duplicate"] for answer in answers[1:])
    assert {answer["alert_id"] for answer in answers} == {answers[0]["alert_id"]}
    incident = await frigate_server.incident(answers[0]["incident_id"])
    assert incident["alert_count"] == 1 and len(incident["alerts"]) == 1
    listed = await frigate_server.client.get("/api/v1/incidents", headers=frigate_server.auth("admin"))
    assert len((await listed.json())["incidents"]) == 1


async def test_frigate_route_ignores_false_positives_and_cooldown(
    frigate_server: Harness, clock: Any
) -> None:
    status, answer = await post(frigate_server, recorded("false_positive"))
    assert (status, answer) == (200, {"ignored": "false_positive"})

    status, first = await post(frigate_server, recorded("update"))
    assert status == 202
    other = recorded("update")
    other["after"]["id"] = "1790000050.000001-second"
    status, answer = await post(frigate_server, other)
    assert (status, answer) == (200, {"ignored": "cooldown"})

    clock.advance(301)
    status, later = await post(frigate_server, other)
    assert status == 202 and later["duplicate"] is False and later["alert_id"] != first["alert_id"]


async def test_frigate_route_end_resolves_the_alert_of_the_object(frigate_server: Harness) -> None:
    status, first = await post(frigate_server, recorded("update"))
    assert status == 202 and first["resolved"] is False
    status, ended = await post(frigate_server, recorded("end"))
    assert status == 202
    assert ended["duplicate"] is True and ended["resolved"] is True
    assert ended["alert_id"] == first["alert_id"]


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"frigate/events person", 400, None),
        (b"[]", 422, None),
        (orjson.dumps({"type": "update"}), 422, "after"),
        (
            orjson.dumps({"type": "update", "after": {**recorded("update")["after"], "score": "x"}}),
            422,
            "after.score",
        ),
        (
            orjson.dumps({"type": "update", "after": {**recorded("update")["after"], "id": 5}}),
            422,
            "after.id",
        ),
    ],
)
async def test_frigate_route_refuses_malformed_messages_naming_the_field(
    frigate_server: Harness, raw: bytes, status: int, field: str | None
) -> None:
    from web.gateway_routes import REJECTED

    answer_status, answer = await post(frigate_server, None, raw=raw)

    assert answer_status == status
    assert answer["error"]["field"] == field
    assert frigate_server.client.app[REJECTED]["frigate"] == 1
    listed = await frigate_server.client.get("/api/v1/incidents", headers=frigate_server.auth("admin"))
    assert (await listed.json())["incidents"] == []
