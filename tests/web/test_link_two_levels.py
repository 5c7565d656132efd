"""A county and its prefecture, both real servers on loopback with real outboxes, linked both ways.

Up: the county's severity II incident reaches the prefecture as CAP (helper "out"'s planner and
outbox, the prefecture's `POST /api/v1/link/cap`). Down: the prefecture's instruction reaches the
county's timeline and its open instructions; the county's acknowledgement comes back up.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dispatch.storage.tables import incident_table
from tests.factories import WEST_N, alert
from tests.link_servers import COUNTY, PREFECTURE, Link, start_server, two_levels
from tests.prefecture_standin import eventually

__all__ = ["start_server", "two_levels"]


async def _get(server: Any, path: str, **auth: Any) -> Any:
    response = await server.client.get(path, headers=server.auth(**(auth or {"role": "admin"})))
    assert response.status == 200, await response.text()
    return await response.json()


async def _prefecture_incident(link: Link) -> int | None:
    found = await link.prefecture.runtime.read(
        lambda connection: connection.execute(sa.select(incident_table.c.id)).scalars().all()
    )
    return found[0] if len(found) == 1 else None


async def _instruction(server: Any, incident_id: int) -> Any:
    [instruction] = (await _get(server, f"/api/v1/incidents/{incident_id}"))["instructions"]
    return instruction


async def test_link_instruction_goes_down_and_its_acknowledgement_comes_back_up(two_levels: Link) -> None:
    link = two_levels
    county_incident = (await link.county.post_alert(alert("breach-1", severity=2, location=WEST_N)))[
        "incident_id"
    ]
    await eventually(lambda: _has(_prefecture_incident(link)), "the county's incident at the prefecture")
    prefecture_incident = await _prefecture_incident(link)
    assert prefecture_incident is not None

    response = await link.prefecture.client.post(
        f"/api/v1/incidents/{prefecture_incident}/instruct",
        json={"text": "立即转移琼湖路低洼处群众，每小时报告一次水位"},
        headers=link.prefecture.auth("dispatcher", name="yiyang-desk"),
    )
    assert response.status == 202, await response.text()
    sent = await response.json()
    assert sent["identifier"].startswith(f"{PREFECTURE}.instr.")

    async def ringing() -> bool:
        found = await _get(link.county, "/api/v1/instructions?open=true", role="dispatcher", name="desk")
        return [each["identifier"] for each in found["instructions"]] == [sent["identifier"]]

    await eventually(ringing, "the instruction among the county's open instructions")
    at_county = await _get(link.county, f"/api/v1/incidents/{county_incident}")
    [received] = [each for each in at_county["timeline"] if each["type"] == "instruction_received"]
    assert received["payload"]["text"] == "立即转移琼湖路低洼处群众，每小时报告一次水位"
    assert received["payload"]["sender"] == "益阳市应急指挥中心"

    async def delivered() -> bool:
        return bool((await _instruction(link.prefecture, prefecture_incident))["state"] == "delivered")

    await eventually(delivered, "the instruction delivered, as the prefecture sees it")

    response = await link.county.client.post(
        f"/api/v1/incidents/{county_incident}/instructions/{sent['identifier']}/acknowledge",
        headers=link.county.auth("dispatcher", name="west-desk", jurisdiction="west"),
    )
    assert response.status == 200, await response.text()

    async def acknowledged() -> bool:
        return bool((await _instruction(link.prefecture, prefecture_incident))["state"] == "acknowledged")

    await eventually(acknowledged, "the acknowledgement at the prefecture")
    instruction = await _instruction(link.prefecture, prefecture_incident)
    assert instruction["acknowledged_by"] == "west-desk"
    timeline = (await _get(link.prefecture, f"/api/v1/incidents/{prefecture_incident}"))["timeline"]
    [ack] = [each for each in timeline if each["type"] == "instruction_acknowledged"]
    assert ack["payload"]["identifier"] == sent["identifier"]
    assert ack["payload"]["acknowledgement"].startswith(f"{COUNTY}.ack.")
    assert (await _get(link.county, "/api/v1/instructions?open=true"))["instructions"] == []


async def _has(value: Any) -> bool:
    return await value is not None


async def test_link_county_incident_and_its_changes_reach_the_prefecture_in_order(two_levels: Link) -> None:
    link = two_levels
    county_incident = (await link.county.post_alert(alert("breach-2", severity=2, location=WEST_N)))[
        "incident_id"
    ]
    await eventually(lambda: _has(_prefecture_incident(link)), "the county's incident at the prefecture")
    prefecture_incident = await _prefecture_incident(link)
    assert prefecture_incident is not None

    for trigger in ("escalate", "resolve", "reopen", "cancel"):
        await link.county.incident_trigger(county_incident, trigger, {"reason": "测试"})

    async def updates() -> list[Any]:
        timeline = (await _get(link.prefecture, f"/api/v1/incidents/{prefecture_incident}"))["timeline"]
        return [each["payload"] for each in timeline if each["type"] == "county_update"]

    async def all_arrived() -> bool:
        return len(await updates()) == 5

    await eventually(all_arrived, "the Alert, three Updates and the Cancel at the prefecture")
    arrived = await updates()
    assert [each["msg_type"] for each in arrived] == ["Alert", "Update", "Update", "Update", "Cancel"]
    assert [each["change"] for each in arrived[1:]] == [
        "incident_escalated",
        "incident_resolved",
        "incident_reopened",
        "incident_cancelled",
    ]
    assert {each["county_incident_id"] for each in arrived} == {str(county_incident)}
    incident = await _get(link.prefecture, f"/api/v1/incidents/{prefecture_incident}")
    assert (incident["state"], incident["jurisdiction"]) == ("cancelled", COUNTY)
    assert await _prefecture_incident(link) == prefecture_incident  # one incident, never a second
