"""Frigate NVR: `translate()` on recorded `frigate/events` and `frigate/reviews` payloads, what
counts as a change, the cooldown, the route and the video intake on a real server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.shared.clock import ManualClock
from gateways.frigate import (
    FrigateEvent,
    FrigateReview,
    Ignored,
    IgnoredReason,
    Matched,
    changes,
    interpret,
    interpret_review,
    translate,
    translate_review,
)
from gateways.frigate_flood import Cooldown, FrigateGateway, PassedOn
from tests.conftest import Harness, ServerFactory
from tests.factories import WEST_N, alert, make_config

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


def review_message(
    name: str = "review_alert", *, data: dict[str, Any] | None = None, **after: Any
) -> dict[str, Any]:
    message = recorded(name)
    message["after"].update(after)
    message["after"]["data"].update(data or {})
    return message


def review(name: str = "review_alert", *, data: dict[str, Any] | None = None, **after: Any) -> FrigateReview:
    return FrigateReview.model_validate(review_message(name, data=data, **after))


REVIEW_ID = "1790000001.308396-fqk5ka"
OBJECT_ID = "1790000000.475377-mxklsc"


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


# translate_review() ----------------------------------------------------------------------------


async def test_frigate_translate_review_alert_is_one_alert_keyed_by_review() -> None:
    alert = translate_review(review(), frigate_config(), NOW)

    assert alert is not None
    assert (alert.source, alert.source_event_id) == ("frigate:wharf", f"review:{REVIEW_ID}")
    assert alert.kind == AlertKind.VIDEO
    assert (alert.category, alert.severity) == ("waterlogging", 2)
    assert alert.location is not None and (alert.location.lat, alert.location.lon) == (28.151, 112.101)
    assert alert.title == "wharf: person @ water"
    assert alert.observed_at is not None and alert.observed_at.timestamp() == pytest.approx(1790000001.308396)
    frigate = alert.attributes["frigate"]
    assert frigate["review_id"] == REVIEW_ID and frigate["severity"] == "alert"
    assert frigate["detections"] == [OBJECT_ID]
    assert frigate["zones"] == ["quay", "water"] and frigate["labels"] == ["person"]


async def test_frigate_translate_review_every_message_of_one_item_has_the_same_key() -> None:
    config = frigate_config()
    keys = {
        (alert.source, alert.source_event_id)
        for name in ("review_alert", "review_end")
        if (alert := translate_review(review(name), config, NOW)) is not None
    }
    assert keys == {("frigate:wharf", f"review:{REVIEW_ID}")}


@pytest.mark.parametrize(
    ("name", "after", "data", "reason"),
    [
        ("review_detection", {}, {}, IgnoredReason.NOT_AN_ALERT),
        ("review_alert", {"severity": "detection"}, {}, IgnoredReason.NOT_AN_ALERT),
        ("review_alert", {"camera": "garage"}, {}, IgnoredReason.UNMAPPED_CAMERA),
        ("review_alert", {}, {"objects": ["dog"]}, IgnoredReason.UNMAPPED_LABEL),
        ("review_alert", {}, {"zones": ["quay"]}, IgnoredReason.UNMAPPED_LABEL),
        ("review_alert", {}, {"objects": ["car"]}, IgnoredReason.UNMAPPED_LABEL),  # cars: market only
    ],
)
async def test_frigate_translate_review_ignores_what_stands_for_no_alert(
    name: str, after: dict[str, Any], data: dict[str, Any], reason: IgnoredReason
) -> None:
    message = review(name, data=data, **after)
    assert interpret_review(message, frigate_config(), NOW) == Ignored(reason)
    assert translate_review(message, frigate_config(), NOW) is None


@pytest.mark.parametrize(
    ("after", "data", "category", "label"),
    [
        ({}, {"objects": ["car", "person-verified"], "sub_labels": ["Bob"]}, "waterlogging", "person"),
        ({}, {"objects": [], "audio": ["person"]}, "waterlogging", "person"),
        ({"camera": "market"}, {"objects": ["car"], "zones": []}, "vending", "car"),
    ],
)
async def test_frigate_translate_review_reads_verified_audio_and_zoneless_labels(
    after: dict[str, Any], data: dict[str, Any], category: str, label: str
) -> None:
    alert = translate_review(review(data=data, **after), frigate_config(), NOW)
    assert alert is not None
    assert alert.category == category and alert.attributes["frigate"]["label"] == label


async def test_frigate_translate_review_never_dates_an_alert_after_now() -> None:
    alert = translate_review(review(start_time=NOW + 3600), frigate_config(), NOW)
    assert alert is not None and alert.observed_at is not None
    assert alert.observed_at.timestamp() == NOW


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "update"}, "after"),
        ({"type": "started", "after": recorded("review_alert")["after"]}, "type"),
        ({"type": "update", "after": []}, "after"),
        (review_message(severity="urgent"), "after.severity"),
        (review_message(start_time="noon"), "after.start_time"),
        (review_message(data={"zones": "water"}), "after.data.zones"),
        (review_message(data={"detections": [5]}), "after.data.detections.0"),
        ({"type": "update", "after": {**recorded("review_alert")["after"], "data": None}}, "after.data"),
    ],
)
async def test_frigate_malformed_reviews_name_the_field(message: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as raised:
        FrigateReview.model_validate(message)
    first = raised.value.errors()[0]  # type: ignore[attr-defined]
    assert ".".join(str(part) for part in first["loc"]) == field


# What counts as a change ----------------------------------------------------------------------

BEFORE = {
    "type": "update",
    "score": 0.71,
    "top_score": 0.9,
    "zones": ["quay"],
    "sub_label": None,
    "has_snapshot": True,
    "has_clip": False,
    "end_time": None,
}


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ({"score": 0.99, "type": "end"}, {}),
        ({"top_score": 0.94}, {}),
        ({"top_score": 0.95}, {"top_score": [0.9, 0.95]}),
        ({"top_score": 0.5}, {}),
        ({"zones": ["quay", "water"]}, {"zones": [["quay"], ["quay", "water"]]}),
        ({"zones": []}, {}),
        ({"has_clip": True}, {"has_clip": [False, True]}),
        ({"has_snapshot": False}, {}),
        ({"sub_label": ["Bob", 0.81]}, {"sub_label": [None, "Bob"]}),
        ({"end_time": 1790000042.1}, {"end_time": [None, 1790000042.1]}),
        (
            {"labels": ["person", "car"], "sub_labels": ["Bob"]},
            {"labels": [[], ["person", "car"]], "sub_labels": [[], ["Bob"]]},
        ),
    ],
)
async def test_frigate_changes_are_only_what_a_dispatcher_cares_about(
    after: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert changes(BEFORE, {**BEFORE, **after}) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (["Bob", 0.81], ["Bob", 0.93], {}),  # only the recognition score moved
        ("Bob", "Alice", {"sub_label": ["Bob", "Alice"]}),
        ("Bob", None, {}),
    ],
)
async def test_frigate_changes_read_a_sub_label_by_its_name(before: Any, after: Any, expected: Any) -> None:
    assert changes({**BEFORE, "sub_label": before}, {**BEFORE, "sub_label": after}) == expected


async def test_frigate_changes_read_a_stored_row_leniently() -> None:
    odd = {"top_score": "high", "zones": [["quay"]], "sub_label": {"name": "Bob"}, "has_snapshot": 1}
    assert changes(odd, BEFORE) == {"top_score": [None, 0.9], "zones": [[], ["quay"]]}


def passed(source_event_id: str, **frigate: Any) -> AlertIn:
    alert = translate(event(), frigate_config(), NOW)
    assert alert is not None
    attributes = {"frigate": {**alert.attributes["frigate"], **frigate}}
    return alert.model_copy(update={"source_event_id": source_event_id, "attributes": attributes})


async def test_frigate_passed_on_judges_against_what_it_last_passed_on() -> None:
    memory = PassedOn()
    first = passed("a", top_score=0.9)
    assert memory.changes(first) is None  # never seen: unknown here

    memory.remember(first.source, first.source_event_id, first.attributes)
    assert memory.changes(passed("a", top_score=0.93)) == {}
    assert memory.changes(passed("a", top_score=0.97)) == {"top_score": [0.9, 0.97]}


async def test_frigate_passed_on_forgets_the_oldest_alerts_beyond_its_bound() -> None:
    memory = PassedOn(max_objects=2)
    for name in ("a", "b", "c"):
        alert = passed(name)
        memory.remember(alert.source, alert.source_event_id, alert.attributes)
    assert memory.changes(passed("a")) is None
    assert memory.changes(passed("c")) == {}


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


@pytest.mark.parametrize("event_first", [True, False])
async def test_frigate_cooldown_lets_one_alert_stand_for_a_review_and_its_object(event_first: bool) -> None:
    gateway = FrigateGateway.create(frigate_config())
    if event_first:
        first, later = gateway.take(event(), NOW), gateway.take_review(review(), NOW + 400)
    else:
        first, later = gateway.take_review(review(), NOW), gateway.take(event(), NOW + 400)

    assert not isinstance(first, Ignored)
    # Past the window and still held back: the object already has its alert.
    assert later == Ignored(IgnoredReason.COOLDOWN)


async def test_frigate_cooldown_holds_back_a_review_of_other_objects_within_the_window() -> None:
    gateway = FrigateGateway.create(frigate_config())
    other = review(id="1790000070.1-other", data={"detections": ["1790000069.2-someone"]})

    assert not isinstance(gateway.take(event(), NOW), Ignored)
    assert gateway.take_review(other, NOW + 60) == Ignored(IgnoredReason.COOLDOWN)
    assert not isinstance(gateway.take_review(other, NOW + 301), Ignored)


async def test_frigate_gateway_counts_reviews_that_are_no_alert() -> None:
    gateway = FrigateGateway.create(frigate_config())
    assert gateway.take_review(review("review_detection"), NOW) == Ignored(IgnoredReason.NOT_AN_ALERT)
    assert gateway.ignored[IgnoredReason.NOT_AN_ALERT] == 1


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


def types(incident: Any) -> list[str]:
    return [each["type"] for each in incident["timeline"]]


async def test_frigate_flood_of_one_object_is_one_alert_and_a_handful_of_updates(
    frigate_server: Harness, clock: ManualClock
) -> None:
    """200 updates of one object over 10 s: its best score creeping up, the current frame's
    score flickering, a new zone at the 100th, a clip from the 150th."""
    base = recorded("update")
    answers = []
    for number in range(200):
        message = copy.deepcopy(base)
        found = message["after"]
        found["frame_time"] = base["after"]["start_time"] + number * 0.05
        found["score"] = 0.7 + (number % 30) / 100
        found["top_score"] = round(0.70 + number * 0.0015, 4)
        found["entered_zones"] = ["quay", "water", *(["steps"] if number >= 100 else [])]
        found["has_clip"] = number >= 150
        clock.advance(0.05)
        status, answer = await post(frigate_server, message)
        assert status == 202, answer
        answers.append(answer)

    assert answers[0]["duplicate"] is False
    assert all(answer["duplicate"] for answer in answers[1:])
    assert {answer["alert_id"] for answer in answers} == {answers[0]["alert_id"]}
    # Best score up by 0.05 from what was last written (at 34, 68, 134, 184), the zone, the clip.
    assert [number for number, answer in enumerate(answers) if answer["updated"]] == [
        34,
        68,
        100,
        134,
        150,
        184,
    ]
    incident = await frigate_server.incident(answers[0]["incident_id"])
    assert incident["alert_count"] == 1 and len(incident["alerts"]) == 1
    assert types(incident).count("alert_updated") == 6
    assert types(incident).count("alert_received") == 1
    written = incident["alerts"][0]["attributes"]["frigate"]
    assert (written["top_score"], written["has_clip"]) == (0.976, True)
    assert written["zones"] == ["water", "quay", "steps"]
    listed = await frigate_server.client.get("/api/v1/incidents", headers=frigate_server.auth("admin"))
    assert len((await listed.json())["incidents"]) == 1


async def test_frigate_route_update_rewrites_the_alert_in_place(frigate_server: Harness) -> None:
    first = recorded("update")
    first["after"].update(top_score=0.8, has_clip=False)
    better = copy.deepcopy(first)
    better["after"].update(top_score=0.9, has_clip=True, entered_zones=["quay", "water", "steps"])

    status, received = await post(frigate_server, first)
    assert status == 202 and received["updated"] is False
    status, updated = await post(frigate_server, better)
    assert status == 202
    assert updated == {**received, "duplicate": True, "updated": True}
    status, repeated = await post(frigate_server, better)
    assert status == 202 and repeated["updated"] is False

    incident = await frigate_server.incident(received["incident_id"])
    [alert] = incident["alerts"]
    assert alert["attributes"]["frigate"]["top_score"] == 0.9
    assert alert["attributes"]["frigate"]["zones"] == ["water", "quay", "steps"]
    assert alert["attributes"]["frigate"]["has_clip"] is True
    [event] = [each for each in incident["timeline"] if each["type"] == "alert_updated"]
    assert event["payload"] == {
        "alert_id": alert["id"],
        "source": "frigate:wharf",
        "source_event_id": OBJECT_ID,
        "changes": {
            "top_score": [0.8, 0.9],
            "zones": [["water", "quay"], ["water", "quay", "steps"]],
            "has_clip": [False, True],
        },
    }
    assert event["actor"] == "gateway:gateway"


async def test_frigate_route_update_after_a_restart_is_judged_against_the_row(
    make_server: ServerFactory,
) -> None:
    server = await make_server(frigate_config())
    status, received = await post(server, recorded("update"))
    assert status == 202
    await server.client.close()

    restarted = await make_server(frigate_config())  # remembers nothing it passed on
    status, same = await post(restarted, recorded("update"))
    assert status == 202 and same["updated"] is False
    named = recorded("update")
    named["after"]["sub_label"] = ["Bob", 0.82]
    status, answer = await post(restarted, named)
    assert status == 202 and answer["updated"] is True

    incident = await restarted.incident(received["incident_id"])
    assert types(incident).count("alert_updated") == 1
    assert incident["alerts"][0]["attributes"]["frigate"]["sub_label"] == ["Bob", 0.82]


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
    assert ended["duplicate"] is True and ended["updated"] is True and ended["resolved"] is True
    assert ended["alert_id"] == first["alert_id"]
    incident = await frigate_server.incident(first["incident_id"])
    assert types(incident)[-2:] == ["alert_updated", "alert_resolved"]
    assert incident["alerts"][0]["attributes"]["frigate"]["end_time"] == 1790000042.1


async def test_frigate_route_never_updates_or_resolves_another_kind_under_the_same_key(
    frigate_server: Harness,
) -> None:
    # A sensor alert posted (by any gateway token) under the camera's source and the object's id.
    posing = await frigate_server.post_alert(
        alert(OBJECT_ID, source="frigate:wharf", kind="sensor", attributes={"level_cm": 40})
    )

    status, ended = await post(frigate_server, recorded("end"))

    assert status == 202
    assert (ended["duplicate"], ended["updated"], ended["resolved"]) == (True, False, False)
    incident = await frigate_server.incident(posing["incident_id"])
    response = await frigate_server.client.get(
        f"/api/v1/alerts/{posing['alert_id']}", headers=frigate_server.auth("admin")
    )
    stored = await response.json()
    assert (stored["attributes"], stored["resolved_at"]) == ({"level_cm": 40}, None)
    assert "alert_updated" not in types(incident) and "alert_resolved" not in types(incident)


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


# Reviews through the video intake (as the MQTT loop feeds it) ----------------------------------


async def take_review(server: Harness, message: Any) -> Any:
    return await server.runtime.video.take_review(
        FrigateReview.model_validate(message),
        message,
        actor="gateway:frigate",
        now=server.runtime.clock.now(),
        causation_id="mqtt:frigate/reviews",
    )


async def test_frigate_review_alert_is_updated_then_resolved_by_its_end(frigate_server: Harness) -> None:
    detection = await take_review(frigate_server, recorded("review_detection"))
    assert detection.ignored == "not_an_alert" and detection.received is None

    opened = await take_review(frigate_server, recorded("review_alert"))
    assert opened.received is not None and opened.received.duplicate is False
    named = await take_review(frigate_server, review_message(data={"sub_labels": ["Bob"]}))
    ended = await take_review(frigate_server, review_message("review_end", data={"sub_labels": ["Bob"]}))

    assert named.updated is True and named.resolved is False
    assert ended.updated is True and ended.resolved is True
    incident = await frigate_server.incident(opened.received.incident_id)
    [alert] = incident["alerts"]
    assert alert["source_event_id"] == f"review:{REVIEW_ID}"
    assert alert["attributes"]["frigate"]["end_time"] == 1790000163.904121
    assert types(incident).count("alert_updated") == 2 and types(incident)[-1] == "alert_resolved"
    updates = [each["payload"]["changes"] for each in incident["timeline"] if each["type"] == "alert_updated"]
    assert updates[0] == {"sub_labels": [[], ["Bob"]]}
    assert updates[1] == {"end_time": [None, 1790000163.904121]}


@pytest.mark.parametrize("event_first", [True, False])
async def test_frigate_review_and_event_of_one_object_within_cooldown_are_one_alert(
    frigate_server: Harness, clock: ManualClock, event_first: bool
) -> None:
    if event_first:
        status, answer = await post(frigate_server, recorded("update"))
        assert status == 202
        clock.advance(5)
        outcome = await take_review(frigate_server, recorded("review_alert"))
        assert outcome.ignored == "cooldown"
        incident_id = answer["incident_id"]
    else:
        outcome = await take_review(frigate_server, recorded("review_alert"))
        assert outcome.received is not None
        clock.advance(5)
        status, answer = await post(frigate_server, recorded("update"))
        assert (status, answer) == (200, {"ignored": "cooldown"})
        incident_id = outcome.received.incident_id

    incident = await frigate_server.incident(incident_id)
    assert incident["alert_count"] == 1 and len(incident["alerts"]) == 1
    listed = await frigate_server.client.get("/api/v1/incidents", headers=frigate_server.auth("admin"))
    assert len((await listed.json())["incidents"]) == 1
