"""Alert intake over HTTP: durability answers, idempotency, correlation and routing."""

from __future__ import annotations

import sqlalchemy as sa

from dispatch.storage.tables import alert_table, incident_table
from tests.conftest import Harness
from tests.factories import EAST_N, OUTSIDE, WEST_N, alert


async def _count(server: Harness, table: sa.Table) -> int:
    return await server.runtime.read(
        lambda connection: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    )


async def test_alert_opens_incident_and_task_for_nearest_street_responder(server: Harness) -> None:
    answer = await server.post_alert(alert("e1", location={"lat": 28.17, "lon": 112.12}))

    assert answer == {"alert_id": 1, "incident_id": 1, "duplicate": False}
    incident = await server.incident(1)
    assert incident["state"] == "dispatched"
    assert incident["jurisdiction"] == "west-n"
    assert incident["owner"] == {"jurisdiction": "west-n", "tier": "street"}
    assert [task["responder_id"] for task in incident["tasks"]] == ["grid-west-n-1"]
    assert incident["tasks"][0]["state"] == "pending"
    assert [event["type"] for event in incident["timeline"]] == [
        "alert_received",
        "incident_reported",
        "incident_dispatched",
        "task_assigned",
    ]


async def test_alert_same_sender_event_twice_gives_one_alert(server: Harness) -> None:
    first = await server.post_alert(alert("e1"))
    second = await server.post_alert(alert("e1", title="resent by a retrying gateway"))

    assert second == {**first, "duplicate": True}
    assert await _count(server, alert_table) == 1
    assert await _count(server, incident_table) == 1


async def test_alert_batch_answers_per_alert_in_order(server: Harness) -> None:
    answer = await server.post_alert(
        {"alerts": [alert("b1"), alert("b2", source="gauge-2", location=EAST_N), alert("b1")]}
    )

    results = answer["results"]
    assert [r["duplicate"] for r in results] == [False, False, True]
    assert results[2]["alert_id"] == results[0]["alert_id"]
    assert results[0]["incident_id"] != results[1]["incident_id"]


async def test_alert_repeat_of_same_signal_attaches_to_open_incident(server: Harness) -> None:
    first = await server.post_alert(alert("e1", location={"lat": 28.1005, "lon": 112.1}))
    # The same gauge again, a fresh reading, its fix 110 m off and across the street boundary.
    second = await server.post_alert(alert("e2", location={"lat": 28.0995, "lon": 112.1}))

    assert second["incident_id"] == first["incident_id"]
    incident = await server.incident(first["incident_id"])
    assert incident["alert_count"] == 2
    assert [a["source_event_id"] for a in incident["alerts"]] == ["e1", "e2"]
    assert incident["timeline"][-1]["type"] == "alert_received"
    assert incident["timeline"][-1]["payload"]["alert_count"] == 2


async def test_alert_nearby_same_category_from_another_channel_joins(server: Harness) -> None:
    first = await server.post_alert(alert("e1", location={"lat": 28.15, "lon": 112.1}))
    hotline = alert(
        "call-77", source="hotline-12345", kind="hotline", location={"lat": 28.1510, "lon": 112.1010}
    )
    second = await server.post_alert(hotline)

    assert second["incident_id"] == first["incident_id"]


async def test_alert_same_source_far_away_is_another_incident(server: Harness) -> None:
    # A hotline gateway posts every call under one source id: distance still separates them.
    first = await server.post_alert(alert("c1", source="hotline-12345", kind="hotline", location=WEST_N))
    second = await server.post_alert(alert("c2", source="hotline-12345", kind="hotline", location=EAST_N))

    assert second["incident_id"] != first["incident_id"]


async def test_alert_far_or_other_category_opens_its_own_incident(server: Harness) -> None:
    first = await server.post_alert(alert("e1", location={"lat": 28.15, "lon": 112.1}))
    far = await server.post_alert(alert("x1", source="gauge-9", location={"lat": 28.19, "lon": 112.19}))
    other = await server.post_alert(
        alert("x2", source="gauge-8", category="vending", location={"lat": 28.15, "lon": 112.1})
    )

    assert len({first["incident_id"], far["incident_id"], other["incident_id"]}) == 3


async def test_alert_after_correlation_window_opens_new_incident(server: Harness, clock: object) -> None:
    first = await server.post_alert(alert("e1"))
    await server.incident_trigger(first["incident_id"], "resolve", {"reason": "pumped out"})
    clock.advance(31 * 60)  # type: ignore[attr-defined]

    again = await server.post_alert(alert("e2", source="gauge-2"))

    assert again["incident_id"] != first["incident_id"]


async def test_alert_outside_every_polygon_goes_to_city_flagged(server: Harness) -> None:
    answer = await server.post_alert(alert("e1", location=OUTSIDE))

    incident = await server.incident(answer["incident_id"])
    assert incident["outside_area"] is True
    assert incident["jurisdiction"] == "city"
    assert incident["owner"]["tier"] == "city"
    assert [task["responder_id"] for task in incident["tasks"]] == ["flood-city-1"]


async def test_alert_with_jurisdiction_only_is_owned_there(server: Harness) -> None:
    body = alert("e1", jurisdiction="east")
    del body["location"]

    answer = await server.post_alert(body)

    incident = await server.incident(answer["incident_id"])
    assert incident["owner"] == {"jurisdiction": "east", "tier": "town"}
    assert [task["responder_id"] for task in incident["tasks"]] == ["duty-east-1"]


async def test_alert_severity_one_notifies_every_tier_and_prefecture(server: Harness) -> None:
    answer = await server.post_alert(alert("e1", severity=1, location=WEST_N))

    incident = await server.incident(answer["incident_id"])
    notified = [e for e in incident["timeline"] if e["type"] == "incident_notified"]
    assert notified[0]["payload"] == {
        "jurisdiction_ids": ["west-n", "west", "city"],
        "prefecture_id": "prefecture",
    }
    assert incident["policy"]["name"] == "critical"
    assert incident["owner"] == {"jurisdiction": "west", "tier": "town"}


async def test_alert_raw_payload_is_kept(server: Harness) -> None:
    body = alert("e1", attributes={"level_m": 31.2, "gauge": "沅江站"})
    answer = await server.post_alert(body)

    raw = await server.runtime.read(
        lambda connection: connection.execute(
            sa.select(alert_table.c.raw).where(alert_table.c.id == answer["alert_id"])
        ).scalar()
    )
    import orjson

    assert orjson.loads(raw) == body
