"""Up the prefecture link, against the prefecture's stand-in (tests/prefecture_standin.py): what
the real prefecture cannot show.

The real prefecture is in tests/web/test_link_two_levels.py (up and down, a minor incident not
sent, one raised to II, a county of fronts), tests/web/test_link_outage.py (a minute cut off) and
tests/test_link_crash.py (kill -9). Kept here, because only a recorder shows them: the exact wire
of each message (headers, `references`, `sent`'s offset), a prefecture answering 503 (its gateway
in maintenance) counted as down, a 4xx refusal, and a department's webhook (any HTTP receiver).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from dispatch.shared.clock import ManualClock
from tests.conftest import Harness
from tests.county_link import CountyFactory, county_config, make_county
from tests.factories import EAST_N, WEST_S, alert, make_config
from tests.prefecture_standin import PrefectureStandIn, Received, eventually, prefecture
from tests.web.test_metrics import scrape, value
from web.link import LinkStatus

__all__ = ["make_county", "prefecture"]

EAST_S = {"lat": 28.05, "lon": 112.3}


def _parameter(message: Received, name: str) -> str | None:
    marker = f"<valueName>{name}</valueName><value>"
    start = message.body.find(marker)
    if start < 0:
        return None
    start += len(marker)
    return message.body[start : message.body.index("<", start)]


async def _all_links(county: Harness) -> list[dict[str, Any]]:
    response = await county.client.get("/api/v1/link", headers=county.auth("dispatcher", name="desk"))
    assert response.status == 200, await response.text()
    raw = await response.read()
    TypeAdapter(LinkStatus).validate_json(raw, strict=True)  # as the OpenAPI document says
    body: list[dict[str, Any]] = orjson.loads(raw)["destinations"]
    return body


async def _link(county: Harness) -> dict[str, Any]:
    return (await _all_links(county))[0]


async def _attempts(county: Harness, times: int) -> bool:
    """The oldest waiting message has failed this often, as stored (its next try is on the clock)."""
    return bool((await _link(county))["attempts"] == times)


async def test_link_severity_two_incident_goes_up_and_its_changes_follow_in_order(
    make_county: CountyFactory, prefecture: PrefectureStandIn
) -> None:
    county = await make_county(county_config(prefecture.url))

    incident_id = (await county.post_alert(alert("breach-1", severity=2)))["incident_id"]
    await prefecture.until(lambda: len(prefecture.accepted) == 1, "the Alert at the prefecture")
    for trigger in ("escalate", "escalate", "resolve", "reopen", "cancel"):
        await county.incident_trigger(incident_id, trigger, {"reason": "测试"})
    await prefecture.until(lambda: len(prefecture.accepted) == 6, "five more messages")

    sent = prefecture.accepted
    assert [each.field("msgType") for each in sent] == [
        "Alert",
        "Update",
        "Update",
        "Update",
        "Update",
        "Cancel",
    ]
    assert [_parameter(each, "dispatch:change") for each in sent[1:]] == [
        "incident_escalated",
        "incident_forwarded",
        "incident_resolved",
        "incident_reopened",
        "incident_cancelled",
    ]
    assert {each.field("sender") for each in sent} == {"county"}
    assert {each.field("incidents") for each in sent} == {str(incident_id)}
    identifiers = [each.field("identifier") for each in sent]
    assert all(str(identifier).startswith(f"county.{incident_id}.") for identifier in identifiers)
    for index, message in enumerate(sent[1:], start=1):
        referenced = [triple.split(",")[1] for triple in str(message.field("references")).split()]
        assert referenced == identifiers[:index]
    first = sent[0]
    assert (first.path, first.headers["Content-Type"]) == ("/api/v1/link/cap", "application/xml")
    assert first.headers["Idempotency-Key"] == identifiers[0]
    assert "<severity>Severe</severity>" in first.body
    assert _parameter(first, "dispatch:category") == "waterlogging"
    assert "<scope>Private</scope>" in first.body and "<addresses>prefecture</addresses>" in first.body
    assert "+08:00</sent>" in first.body

    async def delivered() -> bool:
        return (await _link(county))["queued"] == 0

    await eventually(delivered, "the outbox emptied")
    timeline = [event["type"] for event in (await county.incident(incident_id))["timeline"]]
    assert timeline.count("outbound_queued") == 6
    assert timeline.count("outbound_delivered") == 6
    assert (await _link(county))["state"] == "up"


async def test_link_holds_while_the_prefecture_answers_503_and_sends_each_once_after(
    make_county: CountyFactory, prefecture: PrefectureStandIn, clock: ManualClock
) -> None:
    county = await make_county(county_config(prefecture.url))
    prefecture.down = True

    incidents = [(await county.post_alert(alert("down-0", severity=2)))["incident_id"]]
    await eventually(lambda: _attempts(county, 1), "a first attempt")
    for attempt in range(2, 8):  # a minute of clock time: the county keeps answering alerts
        where = (WEST_S, EAST_N, EAST_S)[attempt % 3]
        if attempt < 5:
            posted = await county.post_alert(
                alert(f"down-{attempt}", severity=2, location=where, source=f"g{attempt}")
            )
            incidents.append(posted["incident_id"])
        clock.advance(10)
        await eventually(lambda attempt=attempt: _attempts(county, attempt), "the next attempt")
    await county.incident_trigger(incidents[0], "resolve", {"reason": "测试"})

    status = await _link(county)
    assert status["state"] == "down" and status["queued"] == 5
    assert status["last_error"].startswith("HTTP 503")
    assert prefecture.accepted == []

    prefecture.down = False
    clock.advance(10)

    await prefecture.until(lambda: len(prefecture.accepted) == 5, "the held messages")
    assert set(prefecture.identifiers().values()) == {1}
    assert [each.field("incidents") for each in prefecture.accepted] == [
        str(n) for n in [*incidents, incidents[0]]
    ]
    assert [each.field("msgType") for each in prefecture.accepted] == ["Alert"] * 4 + ["Update"]

    async def up() -> bool:
        return (await _link(county))["state"] == "up"

    await eventually(up, "the link up again")
    samples = await scrape(county)
    assert value(samples, "dispatch_outbound_queued", destination="upstream") == 0
    assert value(samples, "dispatch_outbound_failures_total", destination="upstream") == 7
    assert value(samples, "dispatch_outbound_delivered_total", destination="upstream") == 5


async def test_link_refused_message_is_on_the_timeline_and_the_next_goes(
    make_county: CountyFactory, prefecture: PrefectureStandIn
) -> None:
    county = await make_county(county_config(prefecture.url))
    prefecture.refuse = 422

    refused = (await county.post_alert(alert("refused-1", severity=2)))["incident_id"]

    async def on_timeline() -> bool:
        timeline = (await county.incident(refused))["timeline"]
        return any(event["type"] == "outbound_refused" for event in timeline)

    await eventually(on_timeline, "the refusal on the incident's timeline")
    prefecture.refuse = None
    taken = (await county.post_alert(alert("taken-1", severity=2, source="gauge-2", location=EAST_N)))[
        "incident_id"
    ]

    await prefecture.until(lambda: len(prefecture.accepted) == 1, "the next incident's Alert")
    assert prefecture.accepted[0].field("incidents") == str(taken)
    refusal = next(e for e in (await county.incident(refused))["timeline"] if e["type"] == "outbound_refused")
    assert refusal["payload"]["error"].startswith("HTTP 422")


async def test_link_a_departments_desk_hears_of_its_task_through_its_webhook_in_order(
    make_county: CountyFactory, prefecture: PrefectureStandIn, clock: ManualClock
) -> None:
    """The duty desk's bridge (SMS, voice) is told when its department task is sent, when nobody
    accepted it in time (escalated to the city), and when the desk accepts: in that order, each
    once, with the duty contacts to ring; each delivery on the incident's timeline."""
    webhook_desk = prefecture  # any loopback recorder will do: it answers 202 and keeps what came
    departments = [
        {"id": "flood", "name": "防汛"},
        {
            "id": "urban",
            "name": "城管",
            "webhook": {"url": f"{webhook_desk.url}/hooks/urban"},
            "duty_contacts": [{"name": "城管值班台", "phone": "0737-2000101"}],
        },
    ]
    county = await make_county(make_config(departments=departments))
    incident_id = (await county.post_alert(alert("drain-1")))["incident_id"]

    await county.incident_trigger(incident_id, "add_department", {"department": "urban", "reason": "积水"})
    await webhook_desk.until(lambda: len(webhook_desk.accepted) == 1, "the department's webhook called")
    clock.advance(11 * 60)  # the policy's department_accept_within (10 min by default) passes
    await county.fire_deadlines()
    await webhook_desk.until(lambda: len(webhook_desk.accepted) == 2, "the escalation told")
    (task,) = (await county.incident(incident_id))["department_tasks"]
    accepted = await county.client.post(
        f"/api/v1/department-tasks/{task['id']}/accept",
        headers=county.auth("dispatcher", name="urban-desk", department="urban"),
    )
    assert accepted.status == 200, await accepted.text()
    await webhook_desk.until(lambda: len(webhook_desk.accepted) == 3, "the acceptance told")

    bodies = [orjson.loads(each.body) for each in webhook_desk.accepted]
    told = webhook_desk.accepted[0]
    assert told.path == "/hooks/urban"
    assert told.headers["Content-Type"] == "application/json"
    assert [each.headers["Idempotency-Key"] for each in webhook_desk.accepted] == [
        body["identifier"] for body in bodies
    ]
    assert [body["event"] for body in bodies] == [
        "department_task_sent",
        "department_task_escalated",
        "department_task_accepted",
    ]
    assert [body["department_task"]["state"] for body in bodies] == ["sent", "sent", "accepted"]
    assert {body["department_task"]["id"] for body in bodies} == {task["id"]}
    first = bodies[0]
    assert first["incident_id"] == incident_id
    assert first["department"] == {"id": "urban", "name": "城管"}
    assert first["duty_contacts"] == [{"name": "城管值班台", "phone": "0737-2000101"}]
    assert first["category"]["id"] == "waterlogging" and first["severity"] == 3
    assert first["place"]["jurisdiction_id"] == "west-n"
    assert first["at"].endswith("Z") and first["department_task"]["accept_by"].endswith("Z")

    async def on_timeline() -> bool:
        timeline = (await county.incident(incident_id))["timeline"]
        delivered = [
            e
            for e in timeline
            if e["type"] == "outbound_delivered" and e["payload"]["destination"] == "department:urban"
        ]
        return len(delivered) == 3

    await eventually(on_timeline, "the deliveries on the incident's timeline")
    status = {each["destination"]: each for each in (await _all_links(county))}
    assert set(status) == {"department:urban"}
    assert status["department:urban"]["name"] == "城管"
