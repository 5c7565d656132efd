"""Dispatcher and responder REST: the lifecycle end to end, refusals, lists and filters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.factories import EAST_N, WEST_N, WEST_S, alert


def _types(incident: dict[str, Any]) -> list[str]:
    return [event["type"] for event in incident["timeline"]]


async def test_incident_lifecycle_from_alert_to_closed(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]
    responder = "grid-west-n-1"

    for trigger, task_state in [
        ("deliver", "delivered"),
        ("accept", "accepted"),
        ("depart", "en_route"),
        ("arrive", "on_scene"),
        ("complete", "done"),
    ]:
        answer = await server.task_trigger(task_id, trigger, responder)
        assert answer["state"] == task_state
    resolved = await server.incident_trigger(incident_id, "resolve", {"reason": "drain cleared"})
    closed = await server.incident_trigger(incident_id, "close")

    assert resolved["summary"] == "drain cleared"
    assert closed["state"] == "closed"
    assert closed["triggers"] == []
    incident = await server.incident(incident_id)
    assert list(incident["milestones"]) == [
        "reported",
        "dispatched",
        "responding",
        "on_scene",
        "resolved",
        "closed",
    ]
    assert incident["tasks"][0]["delivered_via"] == "rest"
    responders = await server.client.get("/api/v1/responders", headers=server.auth("admin"))
    status = {r["id"]: r["status"] for r in (await responders.json())["responders"]}
    assert status[responder] == "available"


async def test_incident_illegal_trigger_answers_409_with_allowed(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]

    refused = await server.incident_trigger(incident_id, "close", expect=409)

    assert refused["error"]["code"] == "illegal_transition"
    assert refused["error"]["state"] == "dispatched"
    assert "resolve" in refused["error"]["allowed"]
    assert (await server.incident(incident_id))["state"] == "dispatched"


async def test_incident_reopen_after_resolve(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    await server.incident_trigger(incident_id, "resolve", {"reason": "drain cleared"})

    reopened = await server.incident_trigger(incident_id, "reopen", {"reason": "water back"})

    assert reopened["state"] == "verifying"
    assert _types(await server.incident(incident_id))[-1] == "incident_reopened"


async def test_incident_cancel_frees_responders_and_cancels_tasks(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]

    cancelled = await server.incident_trigger(incident_id, "cancel", {"reason": "false alarm"})

    assert cancelled["state"] == "cancelled"
    incident = await server.incident(incident_id)
    assert [task["state"] for task in incident["tasks"]] == ["cancelled"]
    assert incident["deadline_at"] is None
    # The freed grid worker takes the next incident.
    next_id = (await server.post_alert(alert("e2", source="gauge-2", category="vending")))["incident_id"]
    assert (await server.incident(next_id))["tasks"][0]["responder_id"] == "grid-west-n-1"


async def test_incident_merge_moves_alerts_to_the_survivor(server: Harness) -> None:
    # Two gauges 110 m apart but either side of a street boundary: two incidents, one flood.
    north, south = {"lat": 28.1005, "lon": 112.1}, {"lat": 28.0995, "lon": 112.1}
    first = (await server.post_alert(alert("e1", location=north)))["incident_id"]
    second = (await server.post_alert(alert("e2", source="gauge-2", location=south)))["incident_id"]

    await server.incident_trigger(second, "add_department", {"department": "urban", "reason": "blocked road"})
    merged = await server.incident_trigger(second, "merge", {"into_incident_id": first})

    assert merged["state"] == "merged"
    assert merged["merged_into"] == first
    survivor = await server.incident(first)
    assert survivor["alert_count"] == 2
    assert survivor["departments"] == ["flood", "urban"]  # co-handlers follow the merge
    assert {a["source_event_id"] for a in survivor["alerts"]} == {"e1", "e2"}
    # A repeat of gauge-2 now lands on the survivor, not on the merged incident.
    again = await server.post_alert(alert("e3", source="gauge-2", location=south))
    assert again["incident_id"] == first


async def test_incident_assign_by_hand_opens_a_task(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    answer = await server.incident_trigger(
        incident_id, "assign", {"responder_id": "duty-east-1", "reason": "closest pump truck"}
    )

    assert answer["state"] == "dispatched"
    incident = await server.incident(incident_id)
    assert [t["responder_id"] for t in incident["tasks"]] == ["grid-west-n-1", "duty-east-1"]
    assigned = next(e for e in incident["timeline"] if e["type"] == "incident_assigned")
    assert assigned["payload"]["reason"] == "closest pump truck"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"west-n", "east-n", "west-s"}),
        ("?jurisdiction=west", {"west-n", "west-s"}),
        ("?category=vending", {"west-s"}),
        ("?severity=2", {"east-n"}),
        ("?state=resolved", {"west-s"}),
        ("?tier=town", {"east-n"}),
        ("?limit=1", {"west-s"}),
    ],
)
async def test_incident_list_filters(server: Harness, query: str, expected: set[str]) -> None:
    await server.post_alert(alert("e1", location=WEST_N))
    await server.post_alert(alert("e2", source="gauge-2", severity=2, location=EAST_N))
    third = await server.post_alert(
        alert("e3", source="cam-1", kind="video", category="vending", location=WEST_S)
    )
    await server.incident_trigger(third["incident_id"], "resolve", {"reason": "vendor moved on"})

    response = await server.client.get(f"/api/v1/incidents{query}", headers=server.auth("admin"))

    assert response.status == 200
    body = await response.json()
    assert {incident["jurisdiction"] for incident in body["incidents"]} == expected


async def test_incident_events_feed_resumes_after_a_sequence(server: Harness) -> None:
    await server.post_alert(alert("e1"))
    first = await (await server.client.get("/api/v1/events", headers=server.auth("admin"))).json()
    await server.post_alert(alert("e2", source="gauge-2", location=EAST_N))

    response = await server.client.get(
        f"/api/v1/events?after={first['last_seq']}", headers=server.auth("admin")
    )
    later = await response.json()

    assert later["events"][0]["seq"] == first["last_seq"] + 1
    assert {event["type"] for event in later["events"]} >= {"alert_received", "incident_reported"}
