"""What the people's screens read besides incidents: the map, a unit's tasks, raw alerts, CSV, positions."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import orjson
import websockets
from pydantic import TypeAdapter

from dispatch.storage.wire import AlertWithRaw
from tests.conftest import Harness
from tests.factories import EAST_N, WEST_N, WEST_S, alert
from web.people_schemas import JurisdictionCollection, MyTasks, SessionInfo

WAIT = 10.0  # a safety net against hangs, never a timing assertion
UNIT = "grid-west-n-1"


def unit_auth(server: Harness, unit: str = UNIT) -> dict[str, str]:
    return server.auth("responder", name=unit, responder=unit)


async def get(server: Harness, path: str, auth: dict[str, str], status: int = 200) -> Any:
    response = await server.client.get(path, headers=auth)
    assert response.status == status, await response.text()
    return await response.json() if response.content_type == "application/json" else await response.text()


async def test_people_api_jurisdictions_follow_the_scope(server: Harness) -> None:
    city = await get(server, "/api/v1/jurisdictions", server.auth("admin"))
    west = await get(
        server, "/api/v1/jurisdictions", server.auth("dispatcher", name="w", jurisdiction="west")
    )
    grid = await get(server, "/api/v1/jurisdictions", unit_auth(server))
    city_unit = await get(server, "/api/v1/jurisdictions", unit_auth(server, "flood-city-1"))

    TypeAdapter(JurisdictionCollection).validate_json(orjson.dumps(city), strict=True)
    assert [feature["id"] for feature in city["features"]][:3] == [
        "city",
        "west",
        "east",
    ]  # city, towns, streets
    assert {feature["id"] for feature in west["features"]} == {"west", "west-n", "west-s"}
    assert {feature["id"] for feature in grid["features"]} == {
        "west",
        "west-n",
        "west-s",
    }  # its town, for its way
    assert len(city_unit["features"]) == len(city["features"])
    feature = next(each for each in city["features"] if each["id"] == "west-n")
    assert feature["properties"] == {
        "id": "west-n",
        "name": "WEST-N",
        "tier": "street",
        "parent": "west",
        "center": {"lat": 28.15, "lon": 112.1},
    }
    assert feature["geometry"]["type"] == "Polygon"


async def test_people_api_my_tasks_show_the_place_in_words_and_the_dispatchers_note(server: Harness) -> None:
    call = {
        "type": "entry",
        "call_id": "c1",
        "caller_number": "13812345678",
        "location": WEST_S,
        "category": "vending",
        "statement": "路口有人摆摊，我的电话 13812345678",
    }
    response = await server.client.post("/api/v1/hotline/calls", json=call, headers=server.auth("gateway"))
    incident = (await response.json())["incident_id"]
    await server.incident_trigger(incident, "assign", {"responder_id": UNIT, "reason": "你离得最近"})
    other = (await server.post_alert(alert("e1", location=EAST_N)))["incident_id"]

    mine = await get(server, "/api/v1/tasks", unit_auth(server))

    TypeAdapter(MyTasks).validate_json(orjson.dumps(mine), strict=True)
    assert mine["responder"] == UNIT
    [task] = [each for each in mine["tasks"] if each["incident_id"] == incident]
    assert task["place"]["town"] == "WEST" and task["place"]["street"] == "WEST-S"
    assert task["note"] == "你离得最近"
    assert "13812345678" not in task["description"] and "138****5678" in task["description"]
    assert task["category"] == "vending" and task["grade"] == "IV"
    assert all(each["incident_id"] != other for each in mine["tasks"])
    assert mine["last_seq"] >= 1


async def test_people_api_my_tasks_then_resume_misses_nothing(server: Harness) -> None:
    await server.post_alert(alert("w1", location=WEST_N))
    mine = await get(server, "/api/v1/tasks", unit_auth(server))
    later = await server.post_alert(alert("w2", source="gauge-2", location={"lat": 28.16, "lon": 112.11}))
    await server.incident_trigger(later["incident_id"], "assign", {"responder_id": UNIT})
    url = str(server.client.make_url("/ws")).replace("http://", "ws://")

    async with websockets.connect(url, additional_headers=unit_auth(server)) as ws:
        await asyncio.wait_for(ws.recv(), WAIT)  # hello
        await ws.send(orjson.dumps({"type": "resume", "after": mine["last_seq"]}).decode())
        frames = []
        while (frame := orjson.loads(await asyncio.wait_for(ws.recv(), WAIT)))["type"] != "resumed":
            frames.append(frame)

    assigned = [f["event"]["incident_id"] for f in frames if f["event"]["type"] == "task_assigned"]
    assert assigned == [later["incident_id"]]


async def test_people_api_alert_with_its_raw_message_for_those_who_see_it(server: Harness) -> None:
    sent = alert("w1", location=WEST_N, attributes={"level_m": 33.4})
    incident = (await server.post_alert(sent))["incident_id"]
    alert_id = (await server.incident(incident))["alerts"][0]["id"]

    seen = await get(
        server, f"/api/v1/alerts/{alert_id}", server.auth("dispatcher", name="w", jurisdiction="west")
    )
    hidden = await get(
        server,
        f"/api/v1/alerts/{alert_id}",
        server.auth("dispatcher", name="e", jurisdiction="east"),
        status=404,
    )

    TypeAdapter(AlertWithRaw).validate_json(orjson.dumps(seen), strict=True)
    assert orjson.loads(seen["raw"]) == sent
    assert hidden["error"]["code"] == "not_found"


async def test_people_api_csv_of_a_period_for_the_dispatchers_subtree(server: Harness, clock: Any) -> None:
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    await server.post_alert(alert("e1", source="gauge-e", location=EAST_N))
    task = (await server.incident(west))["tasks"][0]["id"]
    clock.advance(45)
    await server.task_trigger(task, "accept", UNIT)
    clock.advance(75)
    await server.task_trigger(task, "arrive", UNIT)
    await server.incident_trigger(west, "resolve", {"reason": '=HYPERLINK("x")'})
    since = "2026-09-01T00:00:00Z"

    text = await get(
        server,
        f"/api/v1/reports/incidents.csv?since={since}&lang=en",
        server.auth("dispatcher", name="w", jurisdiction="west"),
    )

    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][0] == "Incident"
    assert [row[0] for row in rows[1:]] == [str(west)]  # the east incident is not the west desk's
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["State"], line["Town"], line["Street"]) == ("Resolved", "WEST", "WEST-N")
    assert (line["Seconds to accept"], line["Seconds to arrive"]) == ("45", "120")
    assert line["Summary"].startswith("'=")  # never a formula in a spreadsheet


async def test_people_api_csv_refuses_a_bad_period_in_words(server: Harness) -> None:
    auth = server.auth("admin")
    for query, field in [
        ("", "since"),
        ("since=yesterday", "since"),
        ("since=2026-09-01T00:00:00Z&until=2026-08-01T00:00:00Z", "until"),
        ("since=2020-01-01T00:00:00Z", "until"),
        ("since=2026-09-01T00:00:00Z&lang=fr", "lang"),
    ]:
        answer = await get(server, f"/api/v1/reports/incidents.csv?{query}", auth, status=422)
        assert answer["error"]["field"] == field, query


async def test_people_api_positions_reach_the_consoles_that_see_the_unit(server: Harness) -> None:
    url = str(server.client.make_url("/ws")).replace("http://", "ws://")
    west_desk = server.auth("dispatcher", name="w", jurisdiction="west")
    east_desk = server.auth("dispatcher", name="e", jurisdiction="east")

    async with (
        websockets.connect(url, additional_headers=west_desk) as west,
        websockets.connect(url, additional_headers=east_desk) as east,
        websockets.connect(url, additional_headers=unit_auth(server)) as tablet,
    ):
        for ws in (west, east, tablet):
            await asyncio.wait_for(ws.recv(), WAIT)
        await tablet.send(orjson.dumps({"type": "position", "lat": 28.17, "lon": 112.12}).decode())
        await tablet.send(orjson.dumps({"type": "ping"}).decode())
        await asyncio.wait_for(tablet.recv(), WAIT)  # pong: the position was taken
        await server.runtime.positions.flush()  # what the position writer does every second
        frame = orjson.loads(await asyncio.wait_for(west.recv(), WAIT))
        await east.send(orjson.dumps({"type": "ping"}).decode())
        east_next = orjson.loads(await asyncio.wait_for(east.recv(), WAIT))

    assert frame["type"] == "positions"
    assert [(each["id"], each["lat"], each["lon"]) for each in frame["positions"]] == [(UNIT, 28.17, 112.12)]
    assert east_next["type"] == "pong"  # the east desk was sent no position of a west unit


async def test_people_api_incident_list_counts_alerts_by_channel(server: Harness) -> None:
    incident = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    for n in range(2):
        call = {
            "type": "entry",
            "call_id": f"c{n}",
            "caller_number": f"1380000000{n}",
            "location": WEST_N,
            "category": "waterlogging",
            "statement": "积水很深",
        }
        await server.client.post("/api/v1/hotline/calls", json=call, headers=server.auth("gateway"))

    listed = await get(server, "/api/v1/incidents", server.auth("admin"))
    detail = await server.incident(incident)

    [shown] = listed["incidents"]
    assert shown["channels"] == {"sensor": 1, "hotline": 2}
    assert detail["channels"] == {"sensor": 1, "hotline": 2}
    assert "assign" in detail["triggers"] and "close" not in detail["triggers"]


async def test_people_api_session_info_names_what_the_screens_draw(server: Harness) -> None:
    info = await get(server, "/api/v1/session", server.auth("screen", name="hall"))

    TypeAdapter(SessionInfo).validate_json(orjson.dumps(info), strict=True)
    assert info["home"] == "/screen/" and info["csrf_token"] is None
    assert info["settings"]["map"]["tile_url"] is None
    assert {each["id"] for each in info["catalog"]["categories"]} == {"waterlogging", "vending"}
