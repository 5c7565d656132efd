"""Dispatcher actions: suggestions, reassign, co-handling departments, summaries, reasons in the timeline."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.storage import repository
from dispatch.storage.tables import responder_table
from dispatch.storage.writer import Tx
from tests.conftest import Harness, ServerFactory
from tests.factories import EAST_N, WEST_N, alert, config_data, make_config, responder

CITY_DESK = {"role": "dispatcher", "name": "city-desk"}
WEST_DESK = {"role": "dispatcher", "name": "west-desk", "jurisdiction": "west"}
EAST_DESK = {"role": "dispatcher", "name": "east-desk", "jurisdiction": "east"}

# A category nobody in the test roster is qualified for: its incidents stay `reported`.
GAS = {
    "id": "gas_leak",
    "name": "Gas leak",
    "department": "urban",
    "default_severity": 3,
    "policy": "standard",
    "skills": ["gas_detector"],
}


@pytest.fixture
async def desk(make_server: ServerFactory) -> Harness:
    return await make_server(make_config(categories=[*config_data()["categories"], GAS]))


async def _suggestions(
    server: Harness, incident_id: int, query: str = "", *, expect: int = 200, **auth: Any
) -> Any:
    response = await server.client.get(
        f"/api/v1/incidents/{incident_id}/suggestions{query}", headers=server.auth(**(auth or CITY_DESK))
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def _statuses(server: Harness) -> dict[str, str]:
    response = await server.client.get("/api/v1/responders", headers=server.auth("admin"))
    assert response.status == 200, await response.text()
    return {unit["id"]: unit["status"] for unit in (await response.json())["responders"]}


def _ranked(body: dict[str, Any]) -> list[tuple[str, float, bool, bool]]:
    return [
        (unit["id"], unit["distance_m"], unit["qualified"], unit["in_owner_jurisdiction"])
        for unit in body["responders"]
    ]


def _events(incident: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    return [event for event in incident["timeline"] if event["type"] == event_type]


# Suggestions ----------------------------------------------------------------------------------


async def test_suggestions_nearest_available_with_distance(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    body = await _suggestions(server, incident_id, "?limit=4")

    assert body["origin"] == {**WEST_N, "from": "incident"}
    assert body["skills_needed"] == ["flood_watch"]
    # grid-west-n-1 (1.1 km) holds the incident's task: busy, so not suggested.
    assert _ranked(body) == [
        ("duty-west-1", 5559.8, True, False),
        ("grid-west-n-2", 9880.0, True, True),
        ("grid-west-s-1", 11119.5, True, False),
        ("flood-city-1", 11272.9, True, False),
    ]
    first = body["responders"][0]
    assert (first["name"], first["jurisdiction"], first["department"]) == ("duty-west-1", "west", None)
    assert first["skills"] == ["patrol", "flood_watch"]


async def test_suggestions_qualified_before_nearer_unqualified(make_server: ServerFactory) -> None:
    patrol_only = {**responder("patrol-west-n", "west-n", 28.151, 112.1), "skills": ["patrol"]}
    server = await make_server(make_config(responders=[*config_data()["responders"], patrol_only]))
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    body = await _suggestions(server, incident_id, "?limit=100")

    ranked = _ranked(body)
    assert ranked[0] == ("duty-west-1", 5559.8, True, False)
    assert ranked[-1] == ("patrol-west-n", 111.2, False, True)
    assert [distance for _, distance, *_ in ranked[:-1]] == sorted(
        distance for _, distance, *_ in ranked[:-1]
    )


async def test_suggestions_measure_from_owner_center_without_a_position(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", jurisdiction="west-s", location=None)))["incident_id"]

    body = await _suggestions(server, incident_id, "?limit=2")

    assert body["origin"] == {"lat": 28.05, "lon": 112.1, "from": "owner_center"}
    assert _ranked(body) == [
        ("duty-west-1", 5559.8, True, False),
        ("flood-city-1", 11276.9, True, False),
    ]


async def test_suggestions_follow_the_responders_current_position(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    def move(tx: Tx) -> None:  # what a presence update does to the row
        tx.connection.execute(
            sa.update(responder_table)
            .where(responder_table.c.id == "duty-east-1")
            .values(lat=28.1501, lon=112.1, position_at=tx.now)
        )

    await server.runtime.writer.submit(move)
    body = await _suggestions(server, incident_id, "?limit=1")

    assert _ranked(body) == [("duty-east-1", 11.1, True, False)]
    assert body["responders"][0]["position"] == {"lat": 28.1501, "lon": 112.1}


async def test_suggestions_only_within_the_callers_subtree(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    body = await _suggestions(server, incident_id, "?limit=100", **WEST_DESK)

    assert [unit["id"] for unit in body["responders"]] == ["duty-west-1", "grid-west-n-2", "grid-west-s-1"]


@pytest.mark.parametrize(
    ("auth", "status"),
    [(EAST_DESK, 404), ({"role": "responder", "name": "r", "responder": "duty-west-1"}, 403)],
    ids=["other-town", "responder"],
)
async def test_suggestions_refused_outside_scope_or_role(
    server: Harness, auth: dict[str, str], status: int
) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    await _suggestions(server, incident_id, expect=status, **auth)


@pytest.mark.parametrize(
    ("path", "field"),
    [("1/suggestions?limit=0", "limit"), ("1/suggestions?limit=101", "limit"), ("x/suggestions", "id")],
)
async def test_suggestions_bad_query_names_the_field(server: Harness, path: str, field: str) -> None:
    await server.post_alert(alert("e1"))

    response = await server.client.get(f"/api/v1/incidents/{path}", headers=server.auth(**CITY_DESK))

    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["field"] == field


async def test_suggestions_unknown_incident_is_404(server: Harness) -> None:
    await _suggestions(server, 999, expect=404)


# Reassign -------------------------------------------------------------------------------------


async def test_reassign_cancels_the_task_and_tasks_the_new_responder(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    old_task = (await server.incident(incident_id))["tasks"][0]
    assert old_task["responder_id"] == "grid-west-n-1"

    answer = await server.incident_trigger(
        incident_id,
        "reassign",
        {"task_id": old_task["id"], "responder_id": "duty-west-1", "reason": "grid worker stuck in traffic"},
        **CITY_DESK,
    )

    assert (answer["state"], answer["changed"]) == ("dispatched", True)
    assert "reassign" in answer["triggers"]
    incident = await server.incident(incident_id)
    assert [(task["responder_id"], task["state"]) for task in incident["tasks"]] == [
        ("grid-west-n-1", "cancelled"),
        ("duty-west-1", "pending"),
    ]
    statuses = await _statuses(server)
    assert (statuses["grid-west-n-1"], statuses["duty-west-1"]) == ("available", "busy")
    (reassigned,) = _events(incident, "incident_reassigned")
    assert reassigned["task_id"] == old_task["id"]
    assert reassigned["actor"] == "dispatcher:city-desk"
    assert reassigned["payload"] == {
        "trigger": "reassign",
        "from_state": "dispatched",
        "to_state": "dispatched",
        "reason": "grid worker stuck in traffic",
        "from_responder_id": "grid-west-n-1",
        "to_responder_id": "duty-west-1",
    }
    # One transition: its event, then the task it cancelled and the task it opened.
    types = [event["type"] for event in incident["timeline"]]
    start = types.index("incident_reassigned")
    assert types[start : start + 3] == ["incident_reassigned", "task_cancelled", "task_assigned"]
    suggested = await _suggestions(server, incident_id, "?limit=100")
    assert "grid-west-n-1" in {unit["id"] for unit in suggested["responders"]}


@pytest.fixture
async def tasks(server: Harness) -> dict[str, Any]:
    """West incident with an open task and a cancelled one, east incident with its own task."""
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    east = (await server.post_alert(alert("e1", source="gauge-east", location=EAST_N)))["incident_id"]
    await server.incident_trigger(west, "assign", {"responder_id": "grid-west-s-1"})
    west_tasks = (await server.incident(west))["tasks"]
    cancelled = await server.client.post(
        f"/api/v1/tasks/{west_tasks[1]['id']}/cancel",
        json={"note": "not needed"},
        headers=server.auth("admin"),
    )
    assert cancelled.status == 200, await cancelled.text()

    def send_home(tx: Tx) -> None:
        repository.set_responder_status(tx.connection, "urban-city-1", "off_duty", tx.now)

    await server.runtime.writer.submit(send_home)
    return {
        "incident": west,
        "open": west_tasks[0]["id"],
        "cancelled": west_tasks[1]["id"],
        "other": (await server.incident(east))["tasks"][0]["id"],
        "missing": 999,
    }


@pytest.mark.parametrize(
    ("task", "responder_id", "field", "status"),
    [
        ("missing", "duty-west-1", "task_id", 404),
        ("other", "duty-west-1", "task_id", 404),  # like a missing one: ids elsewhere stay private
        ("cancelled", "duty-west-1", "task_id", 422),
        ("open", "nobody", "responder_id", 404),
        ("open", "urban-city-1", "responder_id", 422),  # off duty
        ("open", "grid-west-n-1", "responder_id", 422),  # holds that task already
        ("open", None, "responder_id", 422),
        (None, "duty-west-1", "task_id", 422),
    ],
    ids=[
        "unknown-task",
        "other-incidents-task",
        "task-not-open",
        "unknown",
        "off-duty",
        "same",
        "no-responder",
        "no-task",
    ],
)
async def test_reassign_refusal_names_the_field_and_changes_nothing(
    server: Harness,
    tasks: dict[str, Any],
    task: str | None,
    responder_id: str | None,
    field: str,
    status: int,
) -> None:
    before = await server.incident(tasks["incident"])
    body = {"task_id": tasks.get(task or ""), "responder_id": responder_id, "reason": "try"}

    refused = await server.incident_trigger(tasks["incident"], "reassign", body, expect=status)

    code = {404: "not_found", 422: "invalid"}[status]
    assert (refused["error"]["code"], refused["error"]["field"]) == (code, field)
    assert await server.incident(tasks["incident"]) == before


@pytest.mark.parametrize(
    ("steps", "state", "allowed"),
    [
        ([("resolve", {"reason": "pumped out"}), ("close", {})], "closed", []),
        ([("resolve", {"reason": "pumped out"})], "resolved", ["close", "reopen"]),
        ([("cancel", {"reason": "false alarm"})], "cancelled", []),
    ],
    ids=["closed", "resolved", "cancelled"],
)
async def test_reassign_on_a_finished_incident_is_409_with_allowed(
    server: Harness, steps: list[tuple[str, dict[str, Any]]], state: str, allowed: list[str]
) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]
    for trigger, body in steps:
        await server.incident_trigger(incident_id, trigger, body)

    refused = await server.incident_trigger(
        incident_id, "reassign", {"task_id": task_id, "responder_id": "duty-west-1"}, expect=409
    )

    assert refused["error"]["code"] == "illegal_transition"
    assert (refused["error"]["state"], refused["error"]["allowed"]) == (state, allowed)


async def test_reassign_before_dispatch_is_409_listing_what_may_be_sent(desk: Harness) -> None:
    incident_id = (await desk.post_alert(alert("g1", category="gas_leak")))["incident_id"]

    refused = await desk.incident_trigger(
        incident_id, "reassign", {"task_id": 1, "responder_id": "duty-west-1"}, expect=409
    )

    assert refused["error"]["state"] == "reported"
    assert refused["error"]["allowed"] == [
        "verify",
        "assign",
        "resolve",
        "cancel",
        "merge",
        "escalate",
        "delegate",
        "add_department",
        "remove_department",
    ]


# Co-handling departments ----------------------------------------------------------------------


async def test_departments_add_then_remove(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]

    added = await server.incident_trigger(
        incident_id, "add_department", {"department": "urban", "reason": "vendors block the drain"}
    )
    removed = await server.incident_trigger(
        incident_id, "remove_department", {"department": "urban", "reason": "stalls moved"}
    )

    assert (added["departments"], added["changed"], added["state"]) == (
        ["flood", "urban"],
        True,
        "dispatched",
    )
    assert (removed["departments"], removed["changed"]) == (["flood"], True)
    incident = await server.incident(incident_id)
    assert [event["payload"] for event in _events(incident, "incident_department_added")] == [
        {
            "trigger": "add_department",
            "from_state": "dispatched",
            "to_state": "dispatched",
            "reason": "vendors block the drain",
            "department": "urban",
            "departments": ["flood", "urban"],
        }
    ]
    (gone,) = _events(incident, "incident_department_removed")
    assert (gone["payload"]["department"], gone["payload"]["reason"]) == ("urban", "stalls moved")


@pytest.mark.parametrize(
    ("steps", "repeat"),
    [
        ([("add_department", "urban")], ("add_department", "urban")),
        ([], ("add_department", "flood")),
        ([], ("remove_department", "urban")),
    ],
    ids=["added-twice", "lead-added", "remove-absent"],
)
async def test_departments_repeat_changes_nothing(
    server: Harness, steps: list[tuple[str, str]], repeat: tuple[str, str]
) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    for trigger, department in steps:
        await server.incident_trigger(incident_id, trigger, {"department": department})
    before = await server.incident(incident_id)

    answer = await server.incident_trigger(
        incident_id, repeat[0], {"department": repeat[1], "reason": "again"}
    )

    assert answer["changed"] is False
    assert answer["departments"] == before["departments"]
    assert await server.incident(incident_id) == before


@pytest.mark.parametrize(
    ("trigger", "body"),
    [
        ("remove_department", {"department": "flood"}),  # the category's lead department
        ("add_department", {"department": "fire"}),
        ("remove_department", {"department": "fire"}),
        ("add_department", {}),
    ],
    ids=["lead", "unknown-add", "unknown-remove", "missing"],
)
async def test_departments_refusal_names_department(
    server: Harness, trigger: str, body: dict[str, Any]
) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    before = await server.incident(incident_id)

    refused = await server.incident_trigger(incident_id, trigger, body, expect=422)

    assert refused["error"]["field"] == "department"
    assert await server.incident(incident_id) == before


@pytest.mark.parametrize(
    "steps",
    [[], [("verify", {})], [("assign", {"responder_id": "duty-west-1"})]],
    ids=["reported", "verifying", "dispatched"],
)
async def test_departments_may_change_in_every_open_state(
    desk: Harness, steps: list[tuple[str, dict[str, Any]]]
) -> None:
    incident_id = (await desk.post_alert(alert("g1", category="gas_leak")))["incident_id"]
    for trigger, body in steps:
        await desk.incident_trigger(incident_id, trigger, body)

    answer = await desk.incident_trigger(incident_id, "add_department", {"department": "flood"})

    assert answer["departments"] == ["urban", "flood"]


# Summaries and reasons ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [None, {}, {"reason": ""}, {"reason": "   "}], ids=["no-body", "empty", "blank", "spaces"]
)
async def test_resolve_requires_a_summary(server: Harness, body: dict[str, Any] | None) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    before = await server.incident(incident_id)

    refused = await server.incident_trigger(incident_id, "resolve", body, expect=422)

    assert (refused["error"]["code"], refused["error"]["field"]) == ("invalid", "reason")
    assert await server.incident(incident_id) == before


async def test_resolve_summary_is_kept_on_the_incident(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]

    resolved = await server.incident_trigger(incident_id, "resolve", {"reason": "drain cleared, 2 pumps"})

    assert (resolved["state"], resolved["summary"]) == ("resolved", "drain cleared, 2 pumps")


# Each case: the category of the incident, what happens before, the trigger's own body, its event.
# "<task>" stands for the incident's first task, "<other>" for a second open incident.
TRIGGER_CASES = [
    pytest.param("gas_leak", [], "verify", {}, "incident_verifying", id="verify"),
    pytest.param("gas_leak", [], "assign", {"responder_id": "duty-west-1"}, "incident_assigned", id="assign"),
    pytest.param("waterlogging", [], "escalate", {}, "incident_escalated", id="escalate"),
    pytest.param("waterlogging", [("escalate", {})], "delegate", {}, "incident_delegated", id="delegate"),
    pytest.param("waterlogging", [], "resolve", {}, "incident_resolved", id="resolve"),
    pytest.param(
        "waterlogging", [("resolve", {"reason": "done"})], "close", {}, "incident_closed", id="close"
    ),
    pytest.param(
        "waterlogging", [("resolve", {"reason": "done"})], "reopen", {}, "incident_reopened", id="reopen"
    ),
    pytest.param("waterlogging", [], "cancel", {}, "incident_cancelled", id="cancel"),
    pytest.param("waterlogging", [], "merge", {"into_incident_id": "<other>"}, "incident_merged", id="merge"),
    pytest.param(
        "waterlogging",
        [],
        "reassign",
        {"task_id": "<task>", "responder_id": "duty-west-1"},
        "incident_reassigned",
        id="reassign",
    ),
    pytest.param(
        "waterlogging",
        [],
        "add_department",
        {"department": "urban"},
        "incident_department_added",
        id="add_department",
    ),
    pytest.param(
        "waterlogging",
        [("add_department", {"department": "urban"})],
        "remove_department",
        {"department": "urban"},
        "incident_department_removed",
        id="remove_department",
    ),
]


@pytest.mark.parametrize(("category", "steps", "trigger", "body", "event_type"), TRIGGER_CASES)
async def test_every_trigger_reason_lands_in_the_timeline(
    desk: Harness,
    category: str,
    steps: list[tuple[str, dict[str, Any]]],
    trigger: str,
    body: dict[str, Any],
    event_type: str,
) -> None:
    incident_id = (await desk.post_alert(alert("a1", category=category, location=WEST_N)))["incident_id"]
    other_id = (await desk.post_alert(alert("b1", source="gauge-east", location=EAST_N)))["incident_id"]
    for step, step_body in steps:
        await desk.incident_trigger(incident_id, step, step_body)
    tasks = (await desk.incident(incident_id))["tasks"]
    placeholders = {"<other>": other_id, "<task>": next((task["id"] for task in tasks), None)}
    reason = f"{trigger}: the dispatcher's reason"

    filled = {key: placeholders.get(value, value) for key, value in body.items()}
    await desk.incident_trigger(incident_id, trigger, {**filled, "reason": reason}, **CITY_DESK)

    incident = await desk.incident(incident_id)
    assert reason in [event["payload"]["reason"] for event in _events(incident, event_type)]


async def test_dispatcher_task_cancel_note_lands_in_the_timeline(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]

    response = await server.client.post(
        f"/api/v1/tasks/{task_id}/cancel",
        json={"note": "sent to the wrong street"},
        headers=server.auth(**CITY_DESK),
    )

    assert response.status == 200, await response.text()
    (cancelled,) = _events(await server.incident(incident_id), "task_cancelled")
    assert (cancelled["actor"], cancelled["payload"]["note"]) == (
        "dispatcher:city-desk",
        "sent to the wrong street",
    )
