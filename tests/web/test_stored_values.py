"""Reads never fail on a stored value: a time no calendar holds still serializes."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import alert_table, event_table, incident_table
from tests.conftest import Harness
from tests.factories import alert

LAST = "9999-12-31T23:59:59.999Z"
FIRST = "0001-01-01T00:00:00.000Z"

READS = [
    "/api/v1/incidents/1",
    "/api/v1/incidents",
    "/api/v1/events",
    "/api/v1/alerts/1",
    "/api/v1/stats",
    "/api/v1/reports/incidents.csv?since=2026-09-20T00:00:00Z&until=2026-09-22T00:00:00Z",
]


def _poison(connection: sa.Connection, value: float) -> None:
    """Write `value` where a sender's or the server's time is kept, as a broken past might have."""
    connection.execute(alert_table.update().where(alert_table.c.id == 1).values(observed_at=value))
    connection.execute(event_table.update().where(event_table.c.seq == 1).values(occurred_at=value))
    milestones = {"reported": 1e300, "dispatched": -1e300, "resolved": 1e300}  # JSON has no infinity
    connection.execute(
        incident_table.update()
        .where(incident_table.c.id == 1)
        .values(last_alert_at=value, milestones=milestones)
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # What `9999-12-31T23:59:59-23:59` was stored as, before intake refused it.
        pytest.param(253_402_387_139.0, LAST, id="past-year-9999"),
        pytest.param(1e300, LAST, id="huge"),
        pytest.param(-1e300, FIRST, id="huge-negative"),
        pytest.param(math.inf, LAST, id="infinity"),
        pytest.param(-math.inf, FIRST, id="minus-infinity"),
    ],
)
async def test_reads_serialize_a_stored_time_out_of_range(
    server: Harness, clock: ManualClock, value: float, shown: str
) -> None:
    await server.post_alert(alert("good-1"))
    with server.runtime.write_engine.begin() as connection:
        _poison(connection, value)

    for path in READS:
        response = await server.client.get(path, headers=server.auth("admin"))
        assert response.status == 200, (path, await response.text())
    detail = await server.incident(1)
    assert detail["alerts"][0]["observed_at"] == shown
    assert detail["last_alert_at"] == shown
    assert detail["milestones"] == {"reported": LAST, "dispatched": FIRST, "resolved": LAST}
    events = await (await server.client.get("/api/v1/events", headers=server.auth("admin"))).json()
    assert events["events"][0]["occurred_at"] == shown
    report = await server.client.get(READS[-1], headers=server.auth("admin"))
    assert LAST in await report.text()  # the resolution time, which no local calendar holds

    # A later alert correlated into (or beside) that incident is taken and read like any other.
    clock.advance(60)
    later = await server.post_alert(alert("good-2"))
    assert (await server.incident(later["incident_id"]))["alert_count"] >= 1
    assert (await server.incident(1))["alerts"][0]["observed_at"] == shown
