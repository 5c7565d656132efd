"""Hotline calls: call-takers' entries and telephony events, callers counted, numbers kept private."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import websockets

from dispatch.intake.alerts import AlertKind
from dispatch.shared.clock import ManualClock
from gateways.hotline import CallEntry, TelephonyEvent, mask_number, mask_numbers_in, translate
from tests.conftest import Harness
from tests.factories import WEST_N, make_config

WAIT = 10.0  # a safety net against hangs, never a timing assertion
NUMBER = "13812341234"
TABLET = "grid-west-n-1"


def entry(call_id: str = "c-1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "entry",
        "line": "12345",
        "call_id": call_id,
        "caller_number": NUMBER,
        "caller_name": "王女士",
        "address": "西街 12 号门口",
        "location": WEST_N,
        "category": "waterlogging",
        "statement": "路口积水齐膝，车过不去",
        "callback_wanted": True,
        "received_at": "2026-07-01T08:00:00+08:00",
    }
    body.update(fields)
    return body


def telephony(event: str = "call_started", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": event,
        "system": "pbx-1",
        "call_id": "pbx-77",
        "caller_number": NUMBER,
        "occurred_at": "2026-07-01T00:00:00Z",
        "cell_location": WEST_N,
        "cell_radius_m": 500,
        "category": "waterlogging",
    }
    body.update(fields)
    return body


# translate() -----------------------------------------------------------------------------------


async def test_hotline_translate_entry_keeps_the_caller_in_attributes_only() -> None:
    alert = translate(CallEntry.model_validate(entry()), make_config())

    assert alert is not None
    assert (alert.source, alert.source_event_id, alert.kind) == ("hotline", "c-1", AlertKind.HOTLINE)
    assert alert.category == "waterlogging" and alert.description == "路口积水齐膝，车过不去"
    assert alert.attributes["caller"] == {"number": NUMBER, "name": "王女士", "callback_wanted": True}
    assert alert.title == "热线 12345：Waterlogging，西街 12 号门口"
    assert NUMBER not in (alert.title or "")


async def test_hotline_translate_masks_a_number_written_into_the_address() -> None:
    alert = translate(CallEntry.model_validate(entry(address=f"回电 {NUMBER} 西街")), make_config())
    assert alert is not None and alert.title == "热线 12345：Waterlogging，回电 138****1234 西街"


@pytest.mark.parametrize("event", ["call_started", "call_answered", "call_ended"])
async def test_hotline_translate_telephony_events_of_one_call_share_a_key(event: str) -> None:
    alert = translate(TelephonyEvent.model_validate(telephony(event)), make_config())
    assert alert is not None
    assert (alert.source, alert.source_event_id) == ("hotline", "pbx-77")
    assert alert.location is not None and alert.attributes["caller"] == {"number": NUMBER}
    assert alert.attributes["telephony"]["state"] == event


async def test_hotline_translate_telephony_event_without_category_is_no_alert() -> None:
    call = TelephonyEvent.model_validate(telephony(category=None))
    assert translate(call, make_config()) is None


@pytest.mark.parametrize(
    ("number", "masked"),
    [("13812341234", "138****1234"), ("+86 138-1234-1234", "138****1234"), ("12345", "***45")],
)
async def test_hotline_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


async def test_hotline_mask_numbers_in_text_leaves_short_numbers() -> None:
    assert mask_numbers_in("call 13812341234 back, line 12345") == "call 138****1234 back, line 12345"


# The route ------------------------------------------------------------------------------------


async def call(server: Harness, body: Any, role: str = "gateway") -> tuple[int, Any]:
    response = await server.client.post("/api/v1/hotline/calls", json=body, headers=server.auth(role))
    return response.status, await response.json()


async def test_hotline_five_callers_about_one_flood_are_one_incident(server: Harness) -> None:
    answers = []
    for number in range(5):
        place = {"lat": WEST_N["lat"] + number * 0.0004, "lon": WEST_N["lon"] + number * 0.0003}
        status, answer = await call(
            server, entry(f"c-{number}", caller_number=f"1390000000{number}", location=place)
        )
        assert status == 202, answer
        answers.append(answer)

    assert len({answer["incident_id"] for answer in answers}) == 1
    assert len({answer["alert_id"] for answer in answers}) == 5
    incident = await server.incident(answers[0]["incident_id"])
    assert incident["alert_count"] == 5


async def test_hotline_same_call_twice_is_one_caller(server: Harness) -> None:
    _, first = await call(server, entry())
    status, again = await call(server, entry(), role="dispatcher")
    assert status == 202 and again == {**first, "duplicate": True}


def updates(incident: Any) -> list[dict[str, Any]]:
    return [each["payload"]["changes"] for each in incident["timeline"] if each["type"] == "alert_updated"]


async def test_hotline_entry_then_telephony_events_are_one_alert_updated_in_place(server: Harness) -> None:
    status, first = await call(server, entry("pbx-77"))
    assert status == 202 and first["duplicate"] is False
    answers = [
        await call(server, telephony(event)) for event in ("call_started", "call_answered", "call_ended")
    ]

    assert answers == [(202, {**first, "duplicate": True, "updated": True})] * 3
    incident = await server.incident(first["incident_id"])
    [alert] = incident["alerts"]
    assert incident["alert_count"] == 1
    assert alert["attributes"]["telephony"]["state"] == "call_ended"
    assert list(alert["attributes"]["telephony"]["times"]) == ["call_started", "call_answered", "call_ended"]
    assert alert["description"] == "路口积水齐膝，车过不去"  # the entry's words stay
    assert [each["call_state"] for each in updates(incident)] == [
        [None, "call_started"],
        ["call_started", "call_answered"],
        ["call_answered", "call_ended"],
    ]


async def test_hotline_telephony_first_then_entry_enriches_the_same_alert(server: Harness) -> None:
    _, started = await call(server, telephony("call_started"))
    place = {"lat": WEST_N["lat"] + 0.001, "lon": WEST_N["lon"]}
    status, entered = await call(
        server, entry("pbx-77", category="vending", location=place, address="西街 14 号", severity=2)
    )
    _, ended = await call(server, telephony("call_ended"))

    assert status == 202 and entered == {**started, "duplicate": True, "updated": True}
    assert ended == entered
    incident = await server.incident(started["incident_id"])
    [alert] = incident["alerts"]
    assert incident["alert_count"] == 1
    assert (alert["category"], alert["severity"], alert["location"]) == ("vending", 2, place)
    assert alert["title"] == "热线 12345：Street vending，西街 14 号"
    assert alert["description"] == "路口积水齐膝，车过不去"
    assert alert["attributes"]["caller"] == {"number": NUMBER, "name": "王女士", "callback_wanted": True}
    assert alert["attributes"]["telephony"]["state"] == "call_ended"
    [enriched, hung_up] = updates(incident)
    assert enriched["category"] == ["waterlogging", "vending"] and enriched["description"] == [None, None]
    assert hung_up == {"call_state": ["call_started", "call_ended"]}
    assert NUMBER not in orjson.dumps(incident["timeline"]).decode()  # responders on it read the timeline


async def test_hotline_repeated_messages_of_a_call_write_nothing(server: Harness) -> None:
    _, first = await call(server, entry("pbx-77"))
    _, answered = await call(server, telephony("call_answered"))
    repeats = [await call(server, body) for body in (entry("pbx-77"), telephony("call_answered"))]

    assert answered["updated"] is True
    assert repeats == [(202, {**first, "duplicate": True, "updated": False})] * 2
    incident = await server.incident(first["incident_id"])
    assert len(updates(incident)) == 1 and incident["alert_count"] == 1


async def test_hotline_second_call_from_the_same_number_within_the_window_is_one_caller(
    server: Harness, clock: ManualClock
) -> None:
    _, first = await call(server, entry("c-1"))
    clock.advance(600)
    _, again = await call(server, entry("c-2", caller_number="+86 138-1234-1234", statement="水还在涨"))
    _, its_event = await call(server, telephony("call_ended", call_id="c-2"))
    _, other = await call(server, entry("c-3", caller_number="13900000001"))

    assert again == its_event == {**first, "duplicate": True, "updated": True}
    assert other["incident_id"] == first["incident_id"] and other["alert_id"] != first["alert_id"]
    incident = await server.incident(first["incident_id"])
    assert incident["alert_count"] == 2  # two callers, three calls
    alert = next(each for each in incident["alerts"] if each["id"] == first["alert_id"])
    assert alert["attributes"]["calls"] == ["c-1", "c-2"]
    assert alert["description"] == "路口积水齐膝，车过不去\n— 水还在涨"

    clock.advance(server.config.correlation.window + 1)
    _, later = await call(server, entry("c-4"))
    assert later["duplicate"] is False and later["alert_id"] not in (first["alert_id"], other["alert_id"])


async def test_hotline_telephony_event_without_category_is_ignored(server: Harness) -> None:
    assert await call(server, telephony(category=None)) == (200, {"ignored": "no_category"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"call_id": "x"}, "type"),
        ({**entry(), "type": "sms"}, "type"),
        ({**entry(), "caller_number": "call me"}, "caller_number"),
        ({k: v for k, v in entry().items() if k != "statement"}, "statement"),
        ({**entry(), "category": "alien_landing"}, "category"),
        ({**entry(), "location": None}, "location"),
        ({**telephony(), "occurred_at": "2026-07-01T00:00:00"}, "occurred_at"),
        ({**entry(), "pin": 1234}, "pin"),
    ],
)
async def test_hotline_refuses_bad_calls_naming_the_field(server: Harness, body: Any, field: str) -> None:
    status, answer = await call(server, body)
    assert status == 422 and answer["error"]["field"] == field


async def test_hotline_responders_may_not_post_calls(server: Harness) -> None:
    response = await server.client.post(
        "/api/v1/hotline/calls", json=entry(), headers=server.auth("responder", name=TABLET, responder=TABLET)
    )
    assert response.status == 403


async def test_hotline_caller_number_reaches_dispatchers_only(server: Harness) -> None:
    status, answer = await call(server, entry())
    assert status == 202
    incident = await server.incident(answer["incident_id"])
    [alert] = incident["alerts"]
    assert alert["attributes"]["caller"]["number"] == NUMBER  # the dispatcher's view
    assert incident["tasks"][0]["responder_id"] == TABLET

    # The responder tasked with it: its socket, and every REST answer it may get.
    url = str(server.client.make_url("/ws")).replace("http://", "ws://")
    token = server.token("responder", name=TABLET, responder=TABLET)
    frames: list[str] = []
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as tablet:
        await tablet.send(orjson.dumps({"type": "resume", "after": 0}).decode())
        while not frames or orjson.loads(frames[-1])["type"] != "resumed":
            frames.append(str(await asyncio.wait_for(tablet.recv(), WAIT)))
    assert any("task_assigned" in frame for frame in frames)
    task_id = incident["tasks"][0]["id"]
    accepted = await server.task_trigger(task_id, "accept", TABLET)
    detail = await server.client.get(
        f"/api/v1/incidents/{answer['incident_id']}",
        headers=server.auth("responder", name=TABLET, responder=TABLET),
    )
    assert detail.status == 403
    gateway_view = orjson.dumps(answer).decode()
    for seen in [*frames, orjson.dumps(accepted).decode(), await detail.text(), gateway_view]:
        assert NUMBER not in seen and "王女士" not in seen


async def test_hotline_calls_without_position_in_different_towns_are_different_incidents(
    server: Harness,
) -> None:
    _, west = await call(server, entry("c-west", location=None, jurisdiction="west-n"))
    _, east = await call(server, entry("c-east", location=None, jurisdiction="east-s"))
    assert west["incident_id"] != east["incident_id"]
