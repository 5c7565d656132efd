"""Alert intake without HTTP: an alert opens an incident, a nearby one joins it, a repeat is a duplicate."""

from __future__ import annotations

from tests.dispatch.core.harness import Desk
from tests.factories import EAST_N, WEST_N, alert

NEARBY_WEST_N = {"lat": 28.1505, "lon": 112.1005}
"""About 70 m from WEST_N: inside the correlation radius (300 m)."""


async def test_pipeline_an_alert_opens_an_incident_and_dispatches_it(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))

    incident = await desk.incident(received.incident_id)
    assert received.duplicate is False
    assert (incident.state, incident.category, incident.jurisdiction_id) == (
        "dispatched",
        "waterlogging",
        "west-n",
    )
    assert (incident.alert_count, incident.policy_name, incident.departments) == (1, "standard", ["flood"])
    assert [step.tier.value for step in incident.policy.steps] == ["street", "town", "city"]
    assert await desk.tasks(received.incident_id) == {"grid-west-n-1": "pending"}


async def test_pipeline_a_nearby_alert_of_the_same_category_correlates_into_it(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))

    [second] = await desk.receive(alert("e2", source="gauge-2", location=NEARBY_WEST_N))

    incident = await desk.incident(first.incident_id)
    assert second.incident_id == first.incident_id
    assert incident.alert_count == 2
    assert await desk.tasks(first.incident_id) == {"grid-west-n-1": "pending"}  # nobody more is sent
    assert (await desk.events(first.incident_id)).count("alert_received") == 2


async def test_pipeline_another_category_or_place_opens_its_own_incident(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))

    other_category, other_place = await desk.receive(
        alert("e2", source="cam-1", category="vending", location=NEARBY_WEST_N),
        alert("e3", source="gauge-3", location=EAST_N),
    )

    assert len({first.incident_id, other_category.incident_id, other_place.incident_id}) == 3
    assert (await desk.incident(other_place.incident_id)).owner_jurisdiction_id == "east-n"


async def test_pipeline_a_repeat_is_reported_as_duplicate_and_changes_nothing(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))
    events = await desk.events(first.incident_id)

    [again] = await desk.receive(alert("e1", location=WEST_N))

    assert (again.alert_id, again.incident_id, again.duplicate) == (first.alert_id, first.incident_id, True)
    assert (await desk.incident(first.incident_id)).alert_count == 1
    assert await desk.events(first.incident_id) == events


async def test_pipeline_a_repeat_within_one_batch_is_a_duplicate_of_the_first(desk: Desk) -> None:
    first, again = await desk.receive(alert("e1", location=WEST_N), alert("e1", location=WEST_N))

    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.alert_id == first.alert_id


async def test_pipeline_a_more_severe_alert_raises_the_incidents_severity(desk: Desk) -> None:
    [first] = await desk.receive(alert("e1", location=WEST_N))

    await desk.receive(alert("e2", source="gauge-2", location=NEARBY_WEST_N, severity=2))

    incident = await desk.incident(first.incident_id)
    assert incident.severity == 2
    assert "incident_severity_raised" in await desk.events(first.incident_id)
