"""`dispatch simulate` against a real loopback server: minutes of a flood day in stepped time.

The simulator's clock is the server's ManualClock, moved on by each of its sleeps; the server's
deadlines fire as that clock passes them. What is checked is what a dispatcher would notice.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dispatch.config.model import Config, load_config, parse_config
from dispatch.shared.clock import ManualClock
from dispatch.simulate.access import Credentials, tablet_units
from dispatch.simulate.clock import SteppedClock
from dispatch.simulate.runner import Settings, Simulator
from dispatch.simulate.tally import Tally
from tests.brokers import SYSTEM_BROKER, forget_server_sessions
from tests.conftest import Harness, ServerFactory
from tests.gateways.test_mqtt_link import WAIT_S, eventually

CONFIG = Path(__file__).parents[2] / "config.yaml"
SPAN = 360.0


async def _get(server: Harness, path: str) -> Any:
    response = await server.client.get(path, headers=server.auth("admin"))
    assert response.status == 200, await response.text()
    return await response.json()


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def _events(server: Harness) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = await _get(server, f"/api/v1/events?after={found[-1]['seq'] if found else 0}&limit=5000")
        events = page["events"] if isinstance(page, dict) else page
        if not events:
            return found
        found.extend(events)


async def _run(
    server: Harness,
    clock: ManualClock,
    *,
    seed: int,
    span: float = SPAN,
    drop_sockets_at: float | None = None,
    **settings: Any,
) -> tuple[Tally, str]:
    drop_at = None if drop_sockets_at is None else clock.now() + drop_sockets_at

    async def fire_due_deadlines() -> None:
        nonlocal drop_at
        due = server.runtime.deadlines.next_due
        if due is not None and clock.now() >= due:
            await server.fire_deadlines()
        if drop_at is not None and clock.now() >= drop_at:
            drop_at = None
            await server.runtime.hub.close_all()  # every tablet's socket drops at once

    config = server.config
    tablets = settings.pop("tablets", None)
    credentials = Credentials(
        gateway=server.token("gateway", "simulator"),
        responders={
            unit.id: server.token("responder", f"simulator:{unit.id}", responder=unit.id)
            for unit in tablet_units(config, tablets)
        },
        desk=server.token("dispatcher", "simulator:desk"),
    )
    out = io.StringIO()
    simulator = Simulator(
        config,
        Settings(url=str(server.client.make_url("/")), duration=span, seed=seed, **settings),
        credentials,
        clock=SteppedClock(clock, fire_due_deadlines),
        out=out,
        tty=False,
    )
    return await simulator.run(), out.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_simulate_six_minutes_of_a_flood_day_through_the_public_interfaces(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    server = await make_server(load_config(CONFIG))
    started = clock.now()

    tally, printed = await _run(server, clock, seed=7, drop_sockets_at=180.0)

    assert clock.now() == pytest.approx(started + SPAN)
    assert tally.errors == 0, tally.error_kinds
    incidents = (await _get(server, "/api/v1/incidents?limit=500"))["incidents"]
    assert len(incidents) >= 20  # a few a minute
    assert len({incident["category"] for incident in incidents}) >= 6
    assert {incident["severity"] for incident in incidents} >= {3, 4}

    events = await _events(server)
    kinds = Counter(event["type"] for event in events)
    by_tablet = Counter(event["type"] for event in events if event["payload"].get("channel") == "websocket")
    assert by_tablet["task_delivered"] >= 10
    assert by_tablet["task_accepted"] >= 10
    assert by_tablet["task_arrived"] >= 5
    assert by_tablet["task_completed"] >= 5
    assert by_tablet["task_declined"] >= 1
    assert kinds["incident_resolved"] >= 3  # the duty desk, after the units' reports
    assert kinds["incident_severity_raised"] + kinds["incident_notified"] >= 1
    # The duty desk pulls the flood-control office into waterlogged streets (协办): department tasks.
    assert tally.co_handling >= 1 and kinds["department_task_sent"] == tally.co_handling
    assert "co-handling departments" in printed

    # Halfway through every socket dropped: the tablets logged on again, resumed, and went on.
    assert tally.reconnects == len(tablet_units(server.config, None))
    halfway = started + 180.0
    after_drop = [e for e in events if e["type"] == "task_accepted" and _epoch(e["occurred_at"]) > halfway]
    assert after_drop and all(event["payload"]["channel"] == "websocket" for event in after_drop)

    # Several callers about one event: one incident, counted.
    hotline = [incident for incident in incidents if incident["alert_count"] >= 2]
    details = [await _get(server, f"/api/v1/incidents/{incident['id']}") for incident in hotline]
    assert any(sum(alert["kind"] == "hotline" for alert in found["alerts"]) >= 2 for found in details)

    # A tablet that never answered: its task expired and the incident climbed a tier.
    expired = {event["incident_id"] for event in events if event["type"] == "task_expired"}
    assert any(
        event["type"] == "incident_escalated"
        and event["incident_id"] in expired
        and event["actor"] == "system:deadline"
        and event["payload"]["reason"].startswith("not accepted within")
        for event in events
    )

    lines = printed.splitlines()
    assert lines[0].startswith("dispatch simulate: 沅江市 flood-day seed 7")
    assert lines[-2].startswith("沅江市 flood-day seed 7 · 6m00s · sent ")
    assert f"incidents {len(tally.incidents)}" in lines[-2]
    assert lines[-1].startswith("沅江市 flood-day seed 7 · answers p50 ")
    assert len(tally.incidents) == len(incidents)


def _over_mqtt(prefix: str) -> Config:
    data = load_config(CONFIG).model_dump(mode="json")
    mqtt = {"url": f"mqtt://127.0.0.1:{SYSTEM_BROKER[1]}", "client_id": f"{prefix}-server", "prefix": prefix}
    return parse_config({**data, "mqtt": {**data["mqtt"], **mqtt, "frigate_prefix": f"{prefix}-frigate"}})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_simulate_sends_sensor_readings_over_mqtt_when_configured(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    prefix = "t" + uuid.uuid4().hex[:12]
    server = await make_server(_over_mqtt(prefix))
    link = server.runtime.mqtt
    assert link is not None
    try:
        await asyncio.wait_for(link.connected.wait(), WAIT_S)

        tally, printed = await _run(server, clock, seed=7, span=120.0, tablets=0)

        assert tally.over_mqtt >= 5 and tally.errors == 0
        assert "sensors over MQTT 127.0.0.1:1883" in printed.splitlines()[0]
        await eventually(lambda: link.received["sensor_alerts"] == tally.over_mqtt, "the readings to arrive")
        incidents = (await _get(server, "/api/v1/incidents?limit=500"))["incidents"]
        assert {"water_level_warning", "smoke", "waterlogging"} <= {each["category"] for each in incidents}
    finally:
        await server.client.close()
        await forget_server_sessions(SYSTEM_BROKER[1], f"{prefix}-server")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_simulate_counts_refused_requests_shows_the_first_and_goes_on(
    make_server: ServerFactory, clock: ManualClock
) -> None:
    server = await make_server(load_config(CONFIG))
    stranger = Credentials(gateway="dsp_not-a-token-of-this-server")
    out = io.StringIO()
    simulator = Simulator(
        server.config,
        Settings(url=str(server.client.make_url("/")), duration=120.0, seed=7),
        stranger,
        clock=SteppedClock(clock),
        out=out,
        tty=False,
    )

    tally = await simulator.run()

    assert tally.sent >= 5 and tally.errors == tally.sent and tally.received == 0
    refusals = [line for line in out.getvalue().splitlines() if " 401 " in line]
    assert len(refusals) == 3  # one per route: sensors, Frigate, hotline; the rest are counted
    assert all("is --database the server's database?" in line for line in refusals)
