"""The deadline scheduler as it runs in the server: the real task on the injected clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dispatch.events.catalog import IncidentEscalated
from dispatch.shared.clock import ManualClock
from tests.conftest import Harness, ServerFactory
from tests.factories import WEST_N, alert, make_config, responder

# Long enough for a loopback round trip on a loaded machine; only a failing test waits it out.
SETTLE_S = 5.0

FLOOD_CITY = responder("flood-city-1", "city", 28.1, 112.2, department="flood")
GRID_WEST_N = responder("grid-west-n-1", "west-n", 28.16, 112.1)
SLOW_STREET = {
    "standard": {
        "steps": [
            {"tier": "street", "accept_within": "600s", "responders": 1},
            {"tier": "town", "accept_within": "60s", "responders": 1},
            {"tier": "city", "accept_within": "180s", "responders": 1, "department_only": True},
        ]
    },
    "critical": {"steps": [{"tier": "town", "accept_within": "60s"}]},
}


def _climbed_by_deadline(server: Harness) -> asyncio.Future[IncidentEscalated]:
    """Resolves with the first escalation the scheduler makes on its own."""
    future: asyncio.Future[IncidentEscalated] = asyncio.get_running_loop().create_future()

    def seen(event: IncidentEscalated) -> None:
        if event.actor == "system:deadline" and not future.done():
            future.set_result(event)

    unsubscribe = server.runtime.bus.subscribe(IncidentEscalated, seen)
    future.add_done_callback(lambda _: unsubscribe())
    return future


@pytest.mark.parametrize(
    ("responders", "policies", "move", "accept_within"),
    [
        # Nobody anywhere: unanswered at the city, the scheduler idle; delegated to a town
        # where nobody is free, the town's 120 s must still run out.
        pytest.param([], None, "delegate", 120, id="delegate-while-idle"),
        # Awaiting the street's 600 s; escalated by hand to a town with nobody free, whose
        # 60 s end long before that.
        pytest.param([GRID_WEST_N, FLOOD_CITY], SLOW_STREET, "escalate", 60, id="escalate-sooner"),
    ],
)
async def test_deadline_stored_by_a_manual_move_fires_on_time(
    make_server: ServerFactory,
    clock: ManualClock,
    responders: list[dict[str, Any]],
    policies: dict[str, Any] | None,
    move: str,
    accept_within: int,
) -> None:
    overrides: dict[str, Any] = {"responders": responders}
    if policies is not None:
        overrides["policies"] = policies
    server = await make_server(make_config(**overrides), run_scheduler=True)
    incident_id = (await server.post_alert(alert("d1", location=WEST_N)))["incident_id"]
    climbed = _climbed_by_deadline(server)

    moved = await server.incident_trigger(incident_id, move, {"reason": "by hand"}, role="dispatcher")
    assert moved["owner"] == {"jurisdiction": "west", "tier": "town"}
    waiting = await server.incident(incident_id)
    assert [task["state"] for task in waiting["tasks"]] in ([], ["expired"])  # nobody free there
    assert waiting["deadline_at"] is not None

    clock.advance(accept_within - 1)
    assert not climbed.done()
    clock.advance(1)
    event = await asyncio.wait_for(climbed, SETTLE_S)

    assert event.occurred_at == clock.now()
    incident = await server.incident(incident_id)
    assert incident["owner"] == {"jurisdiction": "city", "tier": "city"}
    escalated = [e for e in incident["timeline"] if e["type"] == "incident_escalated"][-1]
    assert escalated["actor"] == "system:deadline"
    assert escalated["payload"]["reason"] == f"not accepted within {accept_within}s"
