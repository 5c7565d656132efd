"""Department task (协办) rules that need no server: old policy snapshots, repeats, the lead department."""

from __future__ import annotations

from dispatch.core.department_tasks import accept_within, may_resolve_with_open_parts
from dispatch.storage.records import PolicySnapshot
from tests.dispatch.core.harness import Desk
from tests.factories import WEST_N, alert

OLD_SNAPSHOT = {"notify_all_tiers": False, "notify_prefecture": False, "steps": [
    {"tier": "street", "accept_within": 60.0, "responders": 1, "department_only": False}
]}  # fmt: skip


async def test_department_tasks_policy_snapshot_from_before_them_takes_the_defaults() -> None:
    snapshot = PolicySnapshot.from_json(OLD_SNAPSHOT)

    assert "department_accept_within" not in snapshot.as_json()  # written back as it was read
    assert (snapshot.department_accept_within, snapshot.resolve_with_open_departments) == (None, None)


async def test_department_tasks_incident_of_an_old_snapshot_gets_ten_minutes_and_resolve_waits(
    desk: Desk,
) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))
    incident = await desk.incident(received.incident_id)
    incident.policy = PolicySnapshot.from_json(OLD_SNAPSHOT)

    assert accept_within(incident) == 600.0
    assert may_resolve_with_open_parts(incident) is False


async def test_department_tasks_the_lead_department_gets_no_task(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))

    changed = await desk.trigger(received.incident_id, "add_department", department="flood")

    assert changed is False  # flood leads waterlogging: a repeat, no department task
    assert "department_task_sent" not in await desk.events(received.incident_id)
