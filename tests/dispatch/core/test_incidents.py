"""The incident lifecycle without HTTP: a trigger records its event and state; a bad one changes nothing."""

from __future__ import annotations

import pytest

from dispatch.shared.errors import IllegalTransition, InvalidInput, NotFound
from tests.dispatch.core.harness import Desk
from tests.factories import WEST_N, alert


async def _opened(desk: Desk) -> int:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    return received.incident_id


async def test_incidents_an_alert_opens_one_dispatched_to_the_nearest_street_unit(desk: Desk) -> None:
    incident_id = await _opened(desk)

    incident = await desk.incident(incident_id)
    assert (incident.state, incident.owner_jurisdiction_id, incident.owner_tier) == (
        "dispatched",
        "west-n",
        "street",
    )
    assert await desk.tasks(incident_id) == {"grid-west-n-1": "pending"}
    assert await desk.events(incident_id) == [
        "alert_received",
        "incident_reported",
        "incident_dispatched",
        "task_assigned",
    ]


async def test_incidents_resolve_records_its_event_state_and_summary_and_ends_the_tasks(desk: Desk) -> None:
    incident_id = await _opened(desk)
    before = await desk.events(incident_id)

    changed = await desk.trigger(incident_id, "resolve", reason="water pumped out")

    incident = await desk.incident(incident_id)
    assert changed is True
    assert (incident.state, incident.summary, incident.step_deadline_at) == (
        "resolved",
        "water pumped out",
        None,
    )
    assert "resolved" in incident.milestones
    assert await desk.tasks(incident_id) == {"grid-west-n-1": "cancelled"}
    assert (await desk.events(incident_id))[len(before) :] == ["incident_resolved", "task_cancelled"]


@pytest.mark.parametrize(
    ("trigger", "params", "error", "message"),
    [
        ("resolve", {}, InvalidInput, "resolve needs a summary of the outcome in reason"),
        ("close", {}, IllegalTransition, "incident 1 is dispatched: 'close' is not allowed"),
        ("merge", {"into_incident_id": 1}, InvalidInput, "merge needs into_incident_id, another incident"),
        ("merge", {"into_incident_id": 99}, NotFound, "incident 99 does not exist"),
        ("assign", {"responder_id": "nobody"}, NotFound, "responder 'nobody' does not exist"),
        ("add_department", {"department": "fire"}, InvalidInput, "unknown department 'fire'"),
        ("remove_department", {"department": "flood"}, InvalidInput, "'flood' leads incident 1"),
        ("delegate", {"jurisdiction": "east"}, InvalidInput, "'east' is not a jurisdiction directly under"),
        ("reassign", {"task_id": 42, "responder_id": "grid-west-n-2"}, NotFound, "incident 1 has no task 42"),
    ],
)
async def test_incidents_a_bad_trigger_changes_nothing(
    desk: Desk, trigger: str, params: dict[str, object], error: type[Exception], message: str
) -> None:
    incident_id = await _opened(desk)
    before = (await desk.incident(incident_id), await desk.tasks(incident_id), await desk.events(incident_id))

    with pytest.raises(error, match=message):
        await desk.trigger(incident_id, trigger, **params)

    after = (await desk.incident(incident_id), await desk.tasks(incident_id), await desk.events(incident_id))
    assert after == before


async def test_incidents_escalate_at_the_top_without_a_prefecture_link_is_refused(desk: Desk) -> None:
    incident_id = await _opened(desk)
    await desk.trigger(incident_id, "escalate")
    await desk.trigger(incident_id, "escalate")
    await desk.trigger(incident_id, "escalate")  # past the city: forwarded to the prefecture

    with pytest.raises(IllegalTransition, match=r"is owned by the top tier \(city\) already"):
        await desk.trigger(incident_id, "escalate")
    incident = await desk.incident(incident_id)
    assert (incident.owner_jurisdiction_id, incident.forwarded) == ("city", True)
    assert (await desk.events(incident_id)).count("incident_forwarded") == 1


async def test_incidents_escalate_by_hand_opens_the_new_owners_step(desk: Desk) -> None:
    incident_id = await _opened(desk)

    await desk.trigger(incident_id, "escalate", reason="needs the town")

    incident = await desk.incident(incident_id)
    assert (incident.owner_jurisdiction_id, incident.owner_tier, incident.step_index) == ("west", "town", 1)
    assert await desk.tasks(incident_id) == {"grid-west-n-1": "expired", "duty-west-1": "pending"}
    assert incident.step_deadline_at == desk.clock.now() + 120


async def test_incidents_adding_a_department_twice_is_a_repeat_without_an_event(desk: Desk) -> None:
    incident_id = await _opened(desk)

    first = await desk.trigger(incident_id, "add_department", department="urban")
    events = await desk.events(incident_id)
    again = await desk.trigger(incident_id, "add_department", department="urban")

    assert (first, again) == (True, False)
    assert (await desk.incident(incident_id)).departments == ["flood", "urban"]
    assert await desk.events(incident_id) == events


async def test_incidents_reassign_cancels_the_old_task_and_opens_one_for_the_new(
    desk: Desk,
) -> None:
    incident_id = await _opened(desk)
    task_id = 1

    await desk.trigger(incident_id, "reassign", task_id=task_id, responder_id="grid-west-n-2")

    assert await desk.tasks(incident_id) == {"grid-west-n-1": "cancelled", "grid-west-n-2": "pending"}
    assert (await desk.events(incident_id))[-3:] == ["incident_reassigned", "task_cancelled", "task_assigned"]


async def test_incidents_a_task_accepted_moves_its_incident_to_responding(desk: Desk) -> None:
    incident_id = await _opened(desk)

    await desk.task_trigger(incident_id, "grid-west-n-1", "accept")
    await desk.task_trigger(incident_id, "grid-west-n-1", "arrive")

    assert (await desk.incident(incident_id)).state == "on_scene"
    events = await desk.events(incident_id)
    assert events.index("task_accepted") < events.index("incident_responding") < events.index("task_arrived")
    assert events[-1] == "incident_on_scene"
