"""The three tiers with an injected clock: deadlines climb street → town → city; hands go down."""

from __future__ import annotations

from typing import Any

from dispatch.shared.clock import ManualClock
from tests.conftest import Harness, ServerFactory
from tests.dispatch.core.harness import Desk
from tests.factories import WEST_N, alert, make_config, responder


def _types(incident: dict[str, Any]) -> list[str]:
    return [event["type"] for event in incident["timeline"]]


def _open_tasks(incident: dict[str, Any]) -> dict[str, str]:
    return {task["responder_id"]: task["state"] for task in incident["tasks"]}


async def test_escalation_climbs_street_town_city_on_deadlines(server: Harness, clock: ManualClock) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    incident = await server.incident(incident_id)
    assert incident["owner"] == {"jurisdiction": "west-n", "tier": "street"}
    assert _open_tasks(incident) == {"grid-west-n-1": "pending"}

    clock.advance(59)
    assert await server.fire_deadlines() == 0  # not yet: 60 s for the street tier
    clock.advance(1)
    assert await server.fire_deadlines() == 1

    incident = await server.incident(incident_id)
    assert incident["owner"] == {"jurisdiction": "west", "tier": "town"}
    assert _open_tasks(incident) == {"grid-west-n-1": "expired", "duty-west-1": "pending"}
    escalated = [e for e in incident["timeline"] if e["type"] == "incident_escalated"]
    assert escalated[-1]["actor"] == "system:deadline"
    assert escalated[-1]["payload"]["from_jurisdiction_id"] == "west-n"
    assert escalated[-1]["payload"]["to_jurisdiction_id"] == "west"
    assert escalated[-1]["payload"]["reason"] == "not accepted within 60s"

    clock.advance(120)
    assert await server.fire_deadlines() == 1
    incident = await server.incident(incident_id)
    assert incident["owner"] == {"jurisdiction": "city", "tier": "city"}
    assert _open_tasks(incident)["flood-city-1"] == "pending"  # the department's duty desk
    assert _open_tasks(incident)["duty-west-1"] == "expired"

    clock.advance(180)
    assert await server.fire_deadlines() == 1
    incident = await server.incident(incident_id)
    assert _types(incident)[-1] == "incident_unanswered"
    assert incident["deadline_at"] is None
    assert incident["state"] == "dispatched"


async def test_escalation_stops_when_a_responder_accepts(server: Harness, clock: ManualClock) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]

    accepted = await server.task_trigger(task_id, "accept", "grid-west-n-1")
    clock.advance(600)
    await server.fire_deadlines()

    assert accepted["state"] == "accepted"
    incident = await server.incident(incident_id)
    assert incident["state"] == "responding"
    assert incident["owner"]["tier"] == "street"
    assert "incident_escalated" not in _types(incident)


async def test_escalation_accept_is_idempotent(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]

    first = await server.task_trigger(task_id, "accept", "grid-west-n-1")
    again = await server.task_trigger(task_id, "accept", "grid-west-n-1")
    await server.task_trigger(task_id, "depart", "grid-west-n-1")
    late = await server.task_trigger(task_id, "accept", "grid-west-n-1")

    assert (first["changed"], again["changed"], late["changed"]) == (True, False, False)
    assert late["state"] == "en_route"
    incident = await server.incident(incident_id)
    assert _types(incident).count("task_accepted") == 1


async def test_escalation_none_available_moves_to_next_step_at_once(make_server: ServerFactory) -> None:
    # Nobody at street level in west-n: the town owns the incident from the first second.
    config = make_config(
        responders=[
            responder("duty-west-1", "west", 28.1, 112.1),
            responder("flood-city-1", "city", 28.1, 112.2, department="flood"),
        ]
    )
    server = await make_server(config)

    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    incident = await server.incident(incident_id)
    assert incident["owner"] == {"jurisdiction": "west", "tier": "town"}
    assert _open_tasks(incident) == {"duty-west-1": "pending"}
    escalated = next(e for e in incident["timeline"] if e["type"] == "incident_escalated")
    assert escalated["payload"]["reason"] == "no qualified responder free at west-n"


async def test_escalation_decline_asks_next_nearest_then_climbs(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location={"lat": 28.16, "lon": 112.1})))["incident_id"]
    first = (await server.incident(incident_id))["tasks"][0]
    assert first["responder_id"] == "grid-west-n-1"

    await server.task_trigger(first["id"], "decline", "grid-west-n-1", body={"note": "off sick"})
    incident = await server.incident(incident_id)
    assert _open_tasks(incident) == {"grid-west-n-1": "declined", "grid-west-n-2": "pending"}

    second = incident["tasks"][1]
    await server.task_trigger(second["id"], "decline", "grid-west-n-2")
    incident = await server.incident(incident_id)
    assert incident["owner"]["tier"] == "town"
    assert _open_tasks(incident)["duty-west-1"] == "pending"


async def test_escalation_busy_responder_is_not_picked_twice(server: Harness) -> None:
    first = await server.post_alert(alert("e1", location={"lat": 28.16, "lon": 112.1}))
    second = await server.post_alert(
        alert("v1", source="cam-3", category="vending", location={"lat": 28.16, "lon": 112.1})
    )

    one = (await server.incident(first["incident_id"]))["tasks"][0]["responder_id"]
    two = (await server.incident(second["incident_id"]))["tasks"][0]["responder_id"]
    assert (one, two) == ("grid-west-n-1", "grid-west-n-2")


async def test_escalation_manual_escalate_then_delegate_back_down(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    up = await server.incident_trigger(
        incident_id, "escalate", {"reason": "needs pumps"}, role="dispatcher", name="city-desk"
    )
    assert up["owner"] == {"jurisdiction": "west", "tier": "town"}
    assert up["state"] == "dispatched"  # owner changes keep the state

    up = await server.incident_trigger(incident_id, "escalate", {"reason": "town has no pumps"})
    assert up["owner"] == {"jurisdiction": "city", "tier": "city"}

    down = await server.incident_trigger(incident_id, "delegate", {"reason": "pumps sent to town"})
    assert down["owner"] == {"jurisdiction": "west", "tier": "town"}
    down = await server.incident_trigger(incident_id, "delegate", {"reason": "grid can handle"})
    assert down["owner"] == {"jurisdiction": "west-n", "tier": "street"}

    refused = await server.incident_trigger(incident_id, "delegate", expect=409)
    assert "no tier under west-n" in refused["error"]["message"]

    incident = await server.incident(incident_id)
    moves = [
        (e["type"], e["payload"]["to_jurisdiction_id"], e["payload"]["reason"])
        for e in incident["timeline"]
        if e["type"] in ("incident_escalated", "incident_delegated")
    ]
    assert moves == [
        ("incident_escalated", "west", "needs pumps"),
        ("incident_escalated", "city", "town has no pumps"),
        ("incident_delegated", "west", "pumps sent to town"),
        ("incident_delegated", "west-n", "grid can handle"),
    ]
    assert next(e for e in incident["timeline"] if e["type"] == "incident_escalated")["actor"] == (
        "dispatcher:city-desk"
    )
    # Each new owner's responders were tasked; the old owner's unanswered ones expired.
    assert _open_tasks(incident)["grid-west-n-1"] == "pending"


async def test_escalation_top_tier_forwards_to_prefecture_once(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", jurisdiction="city", location=None)))["incident_id"]

    forwarded = await server.incident_trigger(incident_id, "escalate", {"reason": "dam at risk"})
    assert forwarded["forwarded_to_prefecture"] is True
    refused = await server.incident_trigger(incident_id, "escalate", expect=409)
    assert refused["error"]["code"] == "illegal_transition"
    incident = await server.incident(incident_id)
    assert "incident_forwarded" in _types(incident)


async def test_escalation_policy_is_snapshotted_when_incident_opens(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    server = await make_server()
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    await server.client.close()

    # config.yaml edited: the street tier now has 10 minutes. The open incident keeps 60 s.
    data_config = make_config(
        policies={
            "standard": {"steps": [{"tier": "street", "accept_within": "10m"}]},
            "critical": {"steps": [{"tier": "town", "accept_within": "1m"}]},
        }
    )
    restarted = await make_server(data_config)
    clock.advance(61)
    assert await restarted.fire_deadlines() == 1
    incident = await restarted.incident(incident_id)
    assert incident["owner"]["tier"] == "town"


async def test_escalation_deadline_that_passed_while_down_fires_after_restart(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    server = await make_server()
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    await server.client.close()

    clock.advance(3600)  # the server is down for an hour
    restarted = await make_server(run_scheduler=True)
    await restarted.runtime.deadlines.run_once()

    incident = await restarted.incident(incident_id)
    assert incident["owner"]["tier"] == "town"
    assert "task_expired" in _types(incident)


# Driven directly (no HTTP): the orchestrator acting on deadlines and on the machines' follow-ups.


async def test_escalation_core_deadline_climbs_a_tier(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    incident_id = received.incident_id

    desk.clock.advance(60)
    fired = await desk.fire_deadlines()

    incident = await desk.incident(incident_id)
    assert fired == 1
    assert (incident.owner_jurisdiction_id, incident.owner_tier, incident.step_index) == ("west", "town", 1)
    assert await desk.tasks(incident_id) == {"grid-west-n-1": "expired", "duty-west-1": "pending"}
    assert incident.step_deadline_at == desk.clock.now() + 120
    assert (await desk.events(incident_id))[-3:] == ["task_expired", "incident_escalated", "task_assigned"]


async def test_escalation_core_deadline_after_an_accept_does_not_climb(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    await desk.task_trigger(received.incident_id, "grid-west-n-1", "accept")

    desk.clock.advance(600)
    await desk.fire_deadlines()

    incident = await desk.incident(received.incident_id)
    assert (incident.state, incident.owner_tier) == ("responding", "street")
    assert "incident_escalated" not in await desk.events(received.incident_id)


async def test_escalation_core_deadline_after_the_task_is_done_does_not_climb(desk: Desk) -> None:
    # Accepted and completed before the step's time was up: the work is done, nobody failed to answer.
    [received] = await desk.receive(alert("e1", location=WEST_N))
    await desk.task_trigger(received.incident_id, "grid-west-n-1", "accept")
    await desk.task_trigger(received.incident_id, "grid-west-n-1", "complete")

    desk.clock.advance(600)
    await desk.fire_deadlines()

    incident = await desk.incident(received.incident_id)
    assert (incident.state, incident.owner_tier, incident.step_deadline_at) == ("responding", "street", None)
    assert await desk.tasks(received.incident_id) == {"grid-west-n-1": "done"}
    assert "incident_escalated" not in await desk.events(received.incident_id)


async def test_escalation_core_decline_is_replaced_by_the_next_nearest(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    incident_id = received.incident_id
    deadline = (await desk.incident(incident_id)).step_deadline_at

    await desk.task_trigger(incident_id, "grid-west-n-1", "decline")

    incident = await desk.incident(incident_id)
    assert await desk.tasks(incident_id) == {"grid-west-n-1": "declined", "grid-west-n-2": "pending"}
    assert (incident.owner_tier, incident.step_deadline_at) == ("street", deadline)  # same step, same clock


async def test_escalation_core_last_decline_at_a_tier_climbs_at_once(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    incident_id = received.incident_id

    await desk.task_trigger(incident_id, "grid-west-n-1", "decline")
    await desk.task_trigger(incident_id, "grid-west-n-2", "decline")

    incident = await desk.incident(incident_id)
    assert (incident.owner_jurisdiction_id, incident.owner_tier) == ("west", "town")
    assert (await desk.tasks(incident_id))["duty-west-1"] == "pending"


async def test_escalation_core_nobody_left_records_unanswered(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    incident_id = received.incident_id
    for step_seconds in (60, 120, 180):
        desk.clock.advance(step_seconds)
        await desk.fire_deadlines()

    incident = await desk.incident(incident_id)
    assert (incident.state, incident.owner_tier, incident.step_deadline_at) == ("dispatched", "city", None)
    assert (await desk.events(incident_id))[-1] == "incident_unanswered"
