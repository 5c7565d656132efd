"""Alerts resolved or withdrawn by their senders: timeline events, auto-resolve, cancellation."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.storage.tables import alert_table
from tests.conftest import Harness, ServerFactory
from tests.factories import alert as make_alert
from tests.factories import config_data, make_config

GATEWAY = "gateway:gauges"


def _auto_resolving() -> Any:
    policies = config_data()["policies"]
    policies["standard"] = {**policies["standard"], "auto_resolve": True}
    return make_config(policies=policies)


@pytest.fixture
async def auto_server(make_server: ServerFactory) -> Harness:
    return await make_server(_auto_resolving())


def _types(incident: dict[str, Any]) -> list[str]:
    return [event["type"] for event in incident["timeline"]]


async def _alert_row(server: Harness, alert_id: int) -> dict[str, Any]:
    def query(connection: sa.Connection) -> dict[str, Any]:
        return dict(
            connection.execute(sa.select(alert_table).where(alert_table.c.id == alert_id)).mappings().one()
        )

    return await server.runtime.read(query)


async def test_resolve_alert_records_event_and_marks_alert(server: Harness) -> None:
    answer = await server.post_alert(make_alert("e1"))

    change = await server.runtime.service.resolve_alert("gauge-1", "e1", actor=GATEWAY, reason="cleared")

    assert change is not None
    assert (change.alert_id, change.incident_id, change.changed) == (answer["alert_id"], 1, True)
    incident = await server.incident(1)
    resolved = [event for event in incident["timeline"] if event["type"] == "alert_resolved"]
    assert [event["payload"] for event in resolved] == [
        {
            "alert_id": answer["alert_id"],
            "source": "gauge-1",
            "source_event_id": "e1",
            "reason": "cleared",
            "active_alerts": 0,
        }
    ]
    assert resolved[0]["actor"] == GATEWAY
    # The default policy does not auto-resolve: a dispatcher decides.
    assert incident["state"] == "dispatched"
    assert (await _alert_row(server, answer["alert_id"]))["resolved_at"] is not None


async def test_resolve_alert_twice_changes_nothing(server: Harness) -> None:
    await server.post_alert(make_alert("e1"))
    service = server.runtime.service

    await service.resolve_alert("gauge-1", "e1", actor=GATEWAY, reason="cleared")
    before = await server.incident(1)
    again = await service.resolve_alert("gauge-1", "e1", actor=GATEWAY, reason="cleared")

    assert again is not None and again.changed is False
    assert await server.incident(1) == before


async def test_resolve_alert_never_received_is_none(server: Harness) -> None:
    assert await server.runtime.service.resolve_alert("gauge-1", "nope", actor=GATEWAY) is None


async def test_resolve_alert_last_one_auto_resolves_incident_when_policy_says(auto_server: Harness) -> None:
    server = auto_server
    first = await server.post_alert(make_alert("e1"))
    second = await server.post_alert(make_alert("e2"))
    assert first["incident_id"] == second["incident_id"]
    service = server.runtime.service

    partial = await service.resolve_alert("gauge-1", "e1", actor=GATEWAY)
    assert partial is not None and partial.incident_state == "dispatched"
    final = await service.resolve_alert("gauge-1", "e2", actor=GATEWAY)

    assert final is not None and final.incident_state == "resolved"
    incident = await server.incident(first["incident_id"])
    assert incident["state"] == "resolved"
    assert incident["summary"] == "all alerts resolved"
    assert [task["state"] for task in incident["tasks"]] == ["cancelled"]
    resolved = next(event for event in incident["timeline"] if event["type"] == "incident_resolved")
    assert resolved["actor"] == "system:alerts"
    assert resolved["payload"]["reason"] == "all alerts resolved"
    assert _types(incident)[-4:] == [
        "alert_resolved",
        "alert_resolved",
        "incident_resolved",
        "task_cancelled",
    ]


async def test_resolve_alert_of_incident_resolved_by_hand_leaves_it(auto_server: Harness) -> None:
    await auto_server.post_alert(make_alert("e1"))
    await auto_server.incident_trigger(1, "resolve", {"reason": "pumped out"})

    change = await auto_server.runtime.service.resolve_alert("gauge-1", "e1", actor=GATEWAY)

    assert change is not None and change.changed and change.incident_state == "resolved"
    assert (await auto_server.incident(1))["summary"] == "pumped out"


async def test_cancel_alert_only_active_alert_cancels_incident(server: Harness) -> None:
    answer = await server.post_alert(make_alert("e1"))

    [change] = await server.runtime.service.cancel_alert(
        "gauge-1", "e1", actor=GATEWAY, reason="issued in error"
    )

    assert (change.alert_id, change.changed, change.incident_state) == (answer["alert_id"], True, "cancelled")
    incident = await server.incident(answer["incident_id"])
    assert incident["state"] == "cancelled"
    assert _types(incident)[-3:] == ["alert_cancelled", "incident_cancelled", "task_cancelled"]
    cancelled = next(event for event in incident["timeline"] if event["type"] == "incident_cancelled")
    assert cancelled["payload"]["reason"] == "issued in error"
    assert (await _alert_row(server, answer["alert_id"]))["cancelled_at"] is not None


async def test_cancel_alert_with_others_active_only_records_it(server: Harness) -> None:
    await server.post_alert(make_alert("e1"))
    await server.post_alert(make_alert("e2"))

    [change] = await server.runtime.service.cancel_alert("gauge-1", "e1", actor=GATEWAY)

    assert change.changed and change.incident_state == "dispatched"
    incident = await server.incident(1)
    assert incident["state"] == "dispatched"
    assert incident["timeline"][-1]["type"] == "alert_cancelled"
    assert incident["timeline"][-1]["payload"]["active_alerts"] == 1


async def test_cancel_alert_follows_superseded_alerts(server: Harness) -> None:
    await server.post_alert(make_alert("e1"))
    await server.post_alert(make_alert("e2", attributes={"supersedes": [["gauge-1", "e1"]]}))

    changes = await server.runtime.service.cancel_alert("gauge-1", "e2", actor=GATEWAY)

    assert [change.changed for change in changes] == [True, True]
    assert (await server.incident(1))["state"] == "cancelled"


async def test_cancel_alert_twice_and_unknown_change_nothing(server: Harness) -> None:
    await server.post_alert(make_alert("e1"))
    service = server.runtime.service
    await service.cancel_alert("gauge-1", "e1", actor=GATEWAY)
    before = await server.incident(1)

    [again] = await service.cancel_alert("gauge-1", "e1", actor=GATEWAY)

    assert again.changed is False
    assert await service.cancel_alert("gauge-1", "nope", actor=GATEWAY) == []
    assert await server.incident(1) == before
