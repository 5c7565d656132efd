"""Department tasks (协办): sent when a department is added, worked by its desk, escalated when late,
and holding back a resolve while open (issue 12, sub-centers)."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from dispatch.shared.clock import ManualClock
from tests.conftest import Harness, ServerFactory
from tests.factories import WEST_N, alert, config_data, make_config

URBAN = {"role": "dispatcher", "name": "urban-desk", "department": "urban"}
FLOOD = {"role": "dispatcher", "name": "flood-desk", "department": "flood"}


async def _co_handled(server: Harness, department: str = "urban") -> tuple[int, dict[str, Any]]:
    """A waterlogging incident (flood leads) with `department` added as co-handler: its task."""
    incident_id = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    await server.incident_trigger(incident_id, "add_department", {"department": department})
    [task] = (await server.incident(incident_id))["department_tasks"]
    return incident_id, task


async def _work(
    server: Harness, task_id: int, trigger: str, body: Any = None, **caller: Any
) -> ClientResponse:
    return await server.client.post(
        f"/api/v1/department-tasks/{task_id}/{trigger}", json=body, headers=server.auth(**(caller or URBAN))
    )


def _types(incident: dict[str, Any]) -> list[str]:
    return [event["type"] for event in incident["timeline"]]


async def test_department_tasks_added_department_gets_a_sent_task_on_the_timeline(
    server: Harness, clock: ManualClock
) -> None:
    incident_id, task = await _co_handled(server)

    incident = await server.incident(incident_id)
    assert incident["departments"] == ["flood", "urban"]
    assert task["department_id"] == "urban"
    assert task["state"] == "sent"
    assert task["escalated"] is False
    assert task["accept_by"] is not None
    assert _types(incident)[-2:] == ["incident_department_added", "department_task_sent"]
    sent = incident["timeline"][-1]
    assert sent["payload"]["department_task_id"] == task["id"]
    assert sent["payload"]["department_id"] == "urban"


async def test_department_tasks_adding_it_again_opens_no_second_task(server: Harness) -> None:
    incident_id, _ = await _co_handled(server)

    await server.incident_trigger(incident_id, "add_department", {"department": "urban"})

    assert len((await server.incident(incident_id))["department_tasks"]) == 1


async def test_department_tasks_desk_accepts_then_completes(server: Harness) -> None:
    incident_id, task = await _co_handled(server)

    accepted = await _work(server, task["id"], "accept")
    again = await _work(server, task["id"], "accept")
    done = await _work(server, task["id"], "complete", {"reason": "stalls cleared from the drain"})

    assert accepted.status == 200
    assert (await accepted.json())["triggers"] == ["decline", "complete"]
    assert (await again.json())["changed"] is False
    body = await done.json()
    assert (body["state"], body["reason"], body["triggers"]) == ("done", "stalls cleared from the drain", [])
    assert _types(await server.incident(incident_id))[-2:] == [
        "department_task_accepted",
        "department_task_completed",
    ]


async def test_department_tasks_decline_needs_a_reason(server: Harness) -> None:
    _, task = await _co_handled(server)

    bare = await _work(server, task["id"], "decline")
    declined = await _work(server, task["id"], "decline", {"reason": "not a street vending matter"})

    assert bare.status == 422
    assert (await bare.json())["error"]["field"] == "reason"
    assert declined.status == 200
    assert (await declined.json())["state"] == "declined"


async def test_department_tasks_illegal_trigger_is_409_with_the_allowed_ones(server: Harness) -> None:
    _, task = await _co_handled(server)

    early = await _work(server, task["id"], "complete")
    server_only = await _work(server, task["id"], "cancel")

    assert early.status == 409
    error = (await early.json())["error"]
    assert (error["code"], error["state"], error["allowed"]) == (
        "illegal_transition",
        "sent",
        ["accept", "decline"],
    )
    assert server_only.status == 409
    assert (await server_only.json())["error"]["allowed"] == ["accept", "complete", "decline"]


async def test_department_tasks_another_departments_desk_finds_no_such_task(server: Harness) -> None:
    _, task = await _co_handled(server)

    other = await _work(server, task["id"], "accept", **FLOOD)
    missing = await _work(server, 999_999, "accept", **FLOOD)

    assert (other.status, missing.status) == (404, 404)
    assert (await other.json())["error"]["message"] == f"department task {task['id']} does not exist"


async def test_department_tasks_city_dispatcher_may_work_them_a_town_dispatcher_elsewhere_may_not(
    server: Harness,
) -> None:
    _, task = await _co_handled(server)

    east = await _work(server, task["id"], "accept", role="dispatcher", name="east-desk", jurisdiction="east")
    city = await _work(server, task["id"], "accept", role="dispatcher", name="city-desk", jurisdiction="city")

    assert east.status == 404
    assert city.status == 200


async def test_department_tasks_resolve_blocked_by_an_open_part_answers_409_naming_it(
    server: Harness,
) -> None:
    incident_id, task = await _co_handled(server)
    await _work(server, task["id"], "accept")
    before = await server.incident(incident_id)

    refused = await server.incident_trigger(incident_id, "resolve", {"reason": "water gone"}, expect=409)

    error = refused["error"]
    assert error["code"] == "department_part_open"
    assert error["field"] is None
    assert "Urban management (urban)" in error["message"]
    assert f"department task {task['id']} is accepted" in error["message"]
    after = await server.incident(incident_id)
    assert (after["state"], after["timeline"]) == (before["state"], before["timeline"])


async def test_department_tasks_resolve_goes_through_once_the_part_is_done(server: Harness) -> None:
    incident_id, task = await _co_handled(server)
    await _work(server, task["id"], "accept")
    await _work(server, task["id"], "complete")

    resolved = await server.incident_trigger(incident_id, "resolve", {"reason": "water gone"})

    assert resolved["state"] == "resolved"


async def test_department_tasks_policy_may_let_resolve_leave_parts_open(make_server: ServerFactory) -> None:
    data = config_data()
    data["policies"]["standard"]["resolve_with_open_departments"] = True
    server = await make_server(make_config(policies=data["policies"]))
    incident_id, task = await _co_handled(server)

    resolved = await server.incident_trigger(incident_id, "resolve", {"reason": "water gone"})
    await server.incident_trigger(incident_id, "close")

    assert resolved["state"] == "resolved"
    [cancelled] = (await server.incident(incident_id))["department_tasks"]
    assert (cancelled["id"], cancelled["state"], cancelled["reason"]) == (
        task["id"],
        "cancelled",
        "incident close",
    )


async def test_department_tasks_removing_the_department_cancels_its_task(server: Harness) -> None:
    incident_id, _ = await _co_handled(server)

    await server.incident_trigger(incident_id, "remove_department", {"department": "urban"})

    incident = await server.incident(incident_id)
    assert incident["department_tasks"][0]["state"] == "cancelled"
    assert _types(incident)[-1] == "department_task_cancelled"
    resolved = await server.incident_trigger(incident_id, "resolve", {"reason": "water gone"})
    assert resolved["state"] == "resolved"


async def test_department_tasks_cancelling_the_incident_cancels_them(server: Harness) -> None:
    incident_id, _ = await _co_handled(server)

    await server.incident_trigger(incident_id, "cancel", {"reason": "false alarm"})

    assert (await server.incident(incident_id))["department_tasks"][0]["state"] == "cancelled"


async def test_department_tasks_not_accepted_in_time_escalate_to_the_city_and_stay_open(
    server: Harness, clock: ManualClock
) -> None:
    incident_id, task = await _co_handled(server)

    clock.advance(599)
    await server.fire_deadlines()
    early = (await server.incident(incident_id))["department_tasks"][0]
    clock.advance(1)
    await server.fire_deadlines()
    incident = await server.incident(incident_id)
    late = incident["department_tasks"][0]
    accepted = await _work(server, task["id"], "accept")

    assert early["escalated"] is False
    assert (late["state"], late["escalated"]) == ("sent", True)
    [escalated] = [event for event in incident["timeline"] if event["type"] == "department_task_escalated"]
    assert escalated["actor"] == "system:deadline"
    assert escalated["payload"]["city_jurisdiction_id"] == "city"
    assert escalated["payload"]["reason"] == "not accepted within 600s"
    assert accepted.status == 200
    clock.advance(3600)
    await server.fire_deadlines()
    timeline = _types(await server.incident(incident_id))
    assert timeline.count("department_task_escalated") == 1


async def test_department_tasks_deadline_that_passed_while_down_escalates_after_restart(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    server = await make_server()
    incident_id, _ = await _co_handled(server)
    await server.client.close()

    clock.advance(3600)  # the server is down for an hour
    restarted = await make_server(run_scheduler=True)
    await restarted.runtime.deadlines.run_once()

    [task] = (await restarted.incident(incident_id))["department_tasks"]
    assert (task["state"], task["escalated"]) == ("sent", True)


async def test_department_tasks_accept_within_comes_from_the_policy_snapshot(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    data = config_data()
    data["policies"]["standard"]["department_accept_within"] = "2m"
    server = await make_server(make_config(policies=data["policies"]))
    incident_id, _ = await _co_handled(server)

    clock.advance(120)
    await server.fire_deadlines()

    assert (await server.incident(incident_id))["department_tasks"][0]["escalated"] is True


async def test_department_tasks_queue_lists_a_departments_own_tasks(server: Harness) -> None:
    incident_id, task = await _co_handled(server)
    flood_task = await _flood_co_handles_vending(server)

    urban = await server.client.get("/api/v1/department-tasks", headers=server.auth(**URBAN))
    flood = await server.client.get("/api/v1/department-tasks", headers=server.auth(**FLOOD))
    city = await server.client.get("/api/v1/department-tasks?state=sent", headers=server.auth("dispatcher"))
    asking_for_another = await server.client.get(
        "/api/v1/department-tasks?department=flood", headers=server.auth(**URBAN)
    )

    [queued] = (await urban.json())["department_tasks"]
    assert queued["id"] == task["id"]
    assert queued["incident_id"] == incident_id
    assert queued["incident"]["category"] == "waterlogging"
    assert [each["id"] for each in (await flood.json())["department_tasks"]] == [flood_task]
    assert len((await city.json())["department_tasks"]) == 2
    assert (await asking_for_another.json())["department_tasks"] == []


async def _flood_co_handles_vending(server: Harness) -> int:
    """A street vending incident (urban leads) with flood control added: flood's task id."""
    vending = alert("v1", source="patrol-app", category="vending", location={"lat": 28.05, "lon": 112.1})
    incident_id = (await server.post_alert(vending))["incident_id"]
    await server.incident_trigger(incident_id, "add_department", {"department": "flood"})
    [task] = (await server.incident(incident_id))["department_tasks"]
    return int(task["id"])


async def test_department_tasks_open_part_keeps_an_auto_resolving_incident_open(
    make_server: ServerFactory,
) -> None:
    data = config_data()
    data["policies"]["standard"]["auto_resolve"] = True
    server = await make_server(make_config(policies=data["policies"]))
    incident_id, _ = await _co_handled(server)

    change = await server.runtime.service.resolve_alert("gauge-1", "w1", actor="gateway:gauges")

    assert change is not None and change.changed is True  # the sender's resolve stands
    incident = await server.incident(incident_id)
    assert incident["state"] == "dispatched"
    assert incident["department_tasks"][0]["state"] == "sent"
    assert _types(incident)[-1] == "alert_resolved"


async def test_department_tasks_merging_moves_a_co_handlers_part_to_the_absorbing_incident(
    server: Harness,
) -> None:
    absorbed, task = await _co_handled(server)
    target = (await server.post_alert(alert("w9", source="gauge-2", location={"lat": 28.05, "lon": 112.1})))[
        "incident_id"
    ]

    await server.incident_trigger(absorbed, "merge", {"into_incident_id": target})

    assert (await server.incident(absorbed))["department_tasks"][0]["state"] == "cancelled"
    merged = await server.incident(target)
    assert merged["departments"] == ["flood", "urban"]
    [moved] = merged["department_tasks"]
    assert (moved["department_id"], moved["state"]) == ("urban", "sent")
    assert moved["id"] != task["id"]
