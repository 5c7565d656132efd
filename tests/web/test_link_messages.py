"""The prefecture link's receiving ends: a county's CAP at the prefecture, instructions, acknowledgements.

Two real servers on loopback, a county (on the test's database) and its prefecture (on a SQLite
file of its own), both on the test's ManualClock.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import sqlalchemy as sa
import websockets

from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import event_table, incident_table
from tests.factories import WEST_N, alert
from tests.link_servers import COUNTY, PREFECTURE, Link, cap, link, link_token, start_server

__all__ = ["link", "start_server"]


def _types(incident: Any) -> list[str]:
    return [each["type"] for each in incident["timeline"]]


async def _count(server: Any, table: sa.Table) -> int:
    return int(
        await server.runtime.read(
            lambda connection: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        )
    )


# A county's CAP at the prefecture ------------------------------------------------------------


async def test_link_cap_alert_opens_an_incident_in_the_county_node(link: Link, clock: ManualClock) -> None:
    receipt = await link.post_cap(cap("city.7.1", 7, clock=clock))

    assert (receipt["msg_type"], receipt["duplicate"], receipt["opened"]) == ("Alert", False, True)
    incident = await link.prefecture.incident(receipt["incident_id"])
    assert incident["jurisdiction"] == COUNTY
    assert incident["county_link"] == {"county": COUNTY, "county_incident_id": "7"}
    assert incident["owner"] == {"jurisdiction": COUNTY, "tier": "town"}
    assert (incident["category"], incident["severity"]) == ("waterlogging", 2)
    assert "county_update" in _types(incident)
    update = next(each for each in incident["timeline"] if each["type"] == "county_update")
    assert update["payload"]["county_incident_id"] == "7"
    assert update["payload"]["county_state"] == "reported"


async def test_link_cap_update_joins_its_incident_whatever_the_window(link: Link, clock: ManualClock) -> None:
    first = await link.post_cap(cap("city.7.1", 7, clock=clock))
    clock.advance(3 * 3600)  # far past the correlation window (30 minutes)

    later = await link.post_cap(
        cap(
            "city.7.2",
            7,
            clock=clock,
            msg_type="Update",
            references=["city.7.1"],
            severity="Extreme",
            state="resolved",
            change="incident_resolved",
        )
    )

    assert later["incident_id"] == first["incident_id"] and not later["opened"]
    incident = await link.prefecture.incident(first["incident_id"])
    updates = [each["payload"] for each in incident["timeline"] if each["type"] == "county_update"]
    assert [(each["msg_type"], each["county_state"]) for each in updates] == [
        ("Alert", "reported"),
        ("Update", "resolved"),
    ]
    assert updates[1]["change"] == "incident_resolved"
    assert incident["severity"] == 1 and incident["alert_count"] == 2


async def test_link_cap_each_county_incident_is_its_own_incident(link: Link, clock: ManualClock) -> None:
    first = await link.post_cap(cap("city.7.1", 7, clock=clock))
    second = await link.post_cap(cap("city.8.2", 8, clock=clock))  # the same place and category

    assert second["opened"] and second["incident_id"] != first["incident_id"]


async def test_link_cap_cancel_cancels_the_prefecture_incident(link: Link, clock: ManualClock) -> None:
    first = await link.post_cap(cap("city.7.1", 7, clock=clock))

    cancel = await link.post_cap(
        cap("city.7.2", 7, clock=clock, msg_type="Cancel", references=["city.7.1"], state="cancelled")
    )

    assert cancel["cancelled"] and cancel["incident_id"] == first["incident_id"]
    incident = await link.prefecture.incident(first["incident_id"])
    assert incident["state"] == "cancelled"


async def test_link_cap_same_identifier_twice_changes_nothing(link: Link, clock: ManualClock) -> None:
    first = await link.post_cap(cap("city.7.1", 7, clock=clock))
    events = await _count(link.prefecture, event_table)

    again = await link.post_cap(cap("city.7.1", 7, clock=clock))

    assert again["duplicate"] and again["incident_id"] == first["incident_id"]
    assert await _count(link.prefecture, event_table) == events
    assert await _count(link.prefecture, incident_table) == 1


async def test_link_cap_refuses_a_token_not_bound_to_the_sender(link: Link, clock: ManualClock) -> None:
    unbound = link.prefecture.auth("gateway")
    other_county = link_token(link.prefecture, "heshan")

    refused = await link.post_cap(cap("city.7.1", 7, clock=clock), headers=unbound, expect=403)
    await link.post_cap(cap("city.7.1", 7, clock=clock), headers=other_county, expect=403)
    await link.post_cap(
        cap("city.7.1", 7, clock=clock), headers=link.prefecture.auth("dispatcher"), expect=403
    )
    await link.post_cap(cap("city.7.1", 7, clock=clock), headers={"Authorization": "Bearer nope"}, expect=401)

    assert refused["error"]["code"] == "forbidden"
    assert await _count(link.prefecture, incident_table) == 0


async def test_link_cap_without_its_county_incident_is_refused(link: Link, clock: ManualClock) -> None:
    body = cap("city.7.1", 7, clock=clock).replace(b"<incidents>7</incidents>", b"")

    refused = await link.post_cap(body, expect=422)

    assert refused["error"]["field"] == "incidents"


# Instructions down, acknowledgements up -----------------------------------------------------


# Instructions down, acknowledgements up -----------------------------------------------------


async def _linked(link: Link, clock: ManualClock) -> tuple[int, int]:
    """A severity II incident at the county, and the prefecture's incident for it."""
    county_incident = (await link.county.post_alert(alert("gauge-1-a", severity=2, location=WEST_N)))[
        "incident_id"
    ]
    receipt = await link.post_cap(cap(f"city.{county_incident}.1", county_incident, clock=clock))
    return county_incident, receipt["incident_id"]


async def _instructions(server: Any, *, open_only: bool = False, role: str = "admin") -> list[Any]:
    response = await server.client.get(
        f"/api/v1/instructions?open={'true' if open_only else 'false'}", headers=server.auth(role)
    )
    assert response.status == 200, await response.text()
    return list((await response.json())["instructions"])


async def _instruct(link: Link, incident_id: int, text: str, *, expect: int = 202, **auth: Any) -> Any:
    response = await link.prefecture.client.post(
        f"/api/v1/incidents/{incident_id}/instruct",
        json={"text": text},
        headers=link.prefecture.auth(**(auth or {"role": "dispatcher"})),
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def _post_instruction(link: Link, body: Any, *, expect: int = 202, headers: Any = None) -> Any:
    response = await link.county.client.post(
        "/api/v1/link/instructions", json=body, headers=headers or link.prefecture_at_county
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def _acknowledge(link: Link, incident_id: int, identifier: str, *, expect: int = 200) -> Any:
    response = await link.county.client.post(
        f"/api/v1/incidents/{incident_id}/instructions/{identifier}/acknowledge",
        headers=link.county.auth("dispatcher", name="west-desk", jurisdiction="west"),
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def _carry_instructions(link: Link) -> list[Any]:
    """The prefecture's outbox, by hand: each instruction it sent, posted as the contract says."""
    answers = []
    for each in await _instructions(link.prefecture):
        body = {
            "identifier": each["identifier"],
            "incident_id": each["county_incident_id"],
            "text": each["text"],
            "from": each["sender"],
            "sent_at": each["sent_at"],
        }
        answers.append(await _post_instruction(link, body))
    return answers


async def _carry_acknowledgements(link: Link) -> list[Any]:
    """The county's outbox, by hand: each acknowledgement, posted to the prefecture."""
    answers = []
    for each in await _instructions(link.county):
        if each["acknowledged_at"] is None:
            continue
        body = {
            "identifier": f"{COUNTY}.ack.{each['identifier']}",
            "instruction": each["identifier"],
            "by": each["acknowledged_by"],
            "at": each["acknowledged_at"],
        }
        response = await link.prefecture.client.post(
            "/api/v1/link/acknowledgements", json=body, headers=link.county_at_prefecture
        )
        assert response.status == 202, await response.text()
        answers.append(await response.json())
    return answers


async def test_link_instruction_reaches_the_county_and_its_acknowledgement_comes_back(
    link: Link, clock: ManualClock
) -> None:
    county_incident, prefecture_incident = await _linked(link, clock)

    sent = await _instruct(link, prefecture_incident, "立即组织人员转移琼湖路低洼处群众")
    [delivered] = await _carry_instructions(link)

    assert sent["identifier"] == f"{PREFECTURE}.instr.1" and sent["state"] == "sent"
    assert delivered == {"identifier": sent["identifier"], "incident_id": county_incident, "duplicate": False}
    at_county = await link.county.incident(county_incident)
    received = next(each for each in at_county["timeline"] if each["type"] == "instruction_received")
    assert received["payload"]["text"] == "立即组织人员转移琼湖路低洼处群众"
    assert received["payload"]["sender"] == "益阳市应急指挥中心"
    assert received["payload"]["needs_acknowledgement"] is True
    [ringing] = await _instructions(link.county, open_only=True, role="dispatcher")
    assert (ringing["identifier"], ringing["state"]) == (sent["identifier"], "received")

    acknowledged = await _acknowledge(link, county_incident, sent["identifier"])
    await _carry_acknowledgements(link)

    assert acknowledged["changed"] is True
    assert await _instructions(link.county, open_only=True) == []
    at_prefecture = await link.prefecture.incident(prefecture_incident)
    [instruction] = at_prefecture["instructions"]
    assert (instruction["state"], instruction["acknowledged_by"]) == ("acknowledged", "west-desk")
    assert _types(at_prefecture).count("instruction_sent") == 1
    assert _types(at_prefecture).count("instruction_acknowledged") == 1


async def test_link_instruction_rings_the_owner_desk_until_acknowledged(
    link: Link, clock: ManualClock
) -> None:
    county_incident, prefecture_incident = await _linked(link, clock)
    owner = (await link.county.incident(county_incident))["owner"]["jurisdiction"]
    desk = link.county.token("dispatcher", name="owner-desk", jurisdiction=owner)
    url = str(link.county.client.make_url("/ws")).replace("http", "ws", 1)

    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {desk}"}) as ws:
        await _frame(ws, "hello")
        await _instruct(link, prefecture_incident, "加强巡查")
        await _carry_instructions(link)
        alarm = await _frame(ws, "alarm")

    assert (alarm["kind"], alarm["incident_id"]) == ("instruction", county_incident)
    assert alarm["event"]["type"] == "instruction_received"
    assert alarm["event"]["payload"]["text"] == "加强巡查"


async def _frame(ws: Any, kind: str) -> Any:
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10.0))  # a safety net against hangs
        if frame["type"] == kind:
            return frame


async def test_link_instruction_repeats_change_nothing(link: Link, clock: ManualClock) -> None:
    county_incident, prefecture_incident = await _linked(link, clock)
    sent = await _instruct(link, prefecture_incident, "加强巡查")
    await _carry_instructions(link)
    events = await _count(link.county, event_table)

    [again] = await _carry_instructions(link)

    assert again["duplicate"] is True
    assert await _count(link.county, event_table) == events
    assert (await _acknowledge(link, county_incident, sent["identifier"]))["changed"] is True
    assert (await _acknowledge(link, county_incident, sent["identifier"]))["changed"] is False
    [first] = await _carry_acknowledgements(link)
    [second] = await _carry_acknowledgements(link)
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    at_prefecture = await link.prefecture.incident(prefecture_incident)
    assert _types(at_prefecture).count("instruction_acknowledged") == 1
    at_county = await link.county.incident(county_incident)
    assert _types(at_county).count("instruction_acknowledged") == 1


async def test_link_instruct_bad_input_is_named(link: Link, clock: ManualClock) -> None:
    _, prefecture_incident = await _linked(link, clock)
    own = (await link.prefecture.post_alert(alert("pref-gauge-1", location={"lat": 28.1, "lon": 111.9})))[
        "incident_id"
    ]

    missing = await _instruct(link, 999_999, "加强巡查", expect=404)
    empty = await _instruct(link, prefecture_incident, "  ", expect=422)
    not_linked = await _instruct(link, own, "加强巡查", expect=409)
    responder = await _instruct(link, prefecture_incident, "加强巡查", expect=403, role="gateway")

    assert (missing["error"]["code"], missing["error"]["field"]) == ("not_found", "id")
    assert (empty["error"]["code"], empty["error"]["field"]) == ("invalid", "text")
    assert not_linked["error"]["code"] == "not_linked"
    assert (await link.prefecture.incident(own))["county_link"] is None
    assert responder["error"]["code"] == "forbidden"
    assert await _instructions(link.prefecture) == []


async def test_link_instruction_at_the_county_bad_input_is_named(link: Link, clock: ManualClock) -> None:
    county_incident, _ = await _linked(link, clock)
    body = {
        "identifier": f"{PREFECTURE}.instr.1",
        "incident_id": county_incident,
        "text": "加强巡查",
        "from": "益阳市应急指挥中心",
        "sent_at": "2026-07-01T08:00:00+08:00",
    }

    unknown = await _post_instruction(link, {**body, "incident_id": 999_999}, expect=404)
    empty = await _post_instruction(link, {**body, "text": " "}, expect=422)
    unbound = await _post_instruction(link, body, expect=403, headers=link.county.auth("gateway"))
    other = await _post_instruction(link, body, expect=403, headers=link_token(link.county, "heshan"))
    nobody = await _post_instruction(link, body, expect=401, headers={"Authorization": "Bearer dsp_nope"})
    wrong = await _acknowledge(link, county_incident, "yiyang.instr.9", expect=404)

    assert (unknown["error"]["code"], unknown["error"]["field"]) == ("not_found", "incident_id")
    assert empty["error"]["field"] == "text"
    assert unbound["error"]["code"] == other["error"]["code"] == "forbidden"
    assert nobody["error"]["code"] == "unauthorized"
    assert wrong["error"]["field"] == "identifier"
    assert await _instructions(link.county) == []


async def test_link_acknowledgement_from_another_county_is_refused(link: Link, clock: ManualClock) -> None:
    _, prefecture_incident = await _linked(link, clock)
    sent = await _instruct(link, prefecture_incident, "加强巡查")
    body = {
        "identifier": "heshan.ack.1",
        "instruction": sent["identifier"],
        "by": "x",
        "at": "2026-07-01T08:00:00Z",
    }

    response = await link.prefecture.client.post(
        "/api/v1/link/acknowledgements", json=body, headers=link_token(link.prefecture, "heshan")
    )

    assert response.status == 403, await response.text()
    [instruction] = (await link.prefecture.incident(prefecture_incident))["instructions"]
    assert instruction["state"] == "sent"
