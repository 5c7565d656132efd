"""The flood day across two levels: the county's levee piping goes up to the prefecture, and the
prefecture's duty desk (played by the simulator) sends an instruction back down.

Two real servers on loopback, each on its own database and linked both ways with the tokens each
issued the other: the county (config.yaml, 沅江市) and its prefecture (the shipped sample
dispatch/config/samples/prefecture.yaml, 益阳市). The simulator plays five and a half minutes of the
county's day in stepped time; what is checked is what the dispatchers at both levels see.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from dispatch.access.auth import issue_token
from dispatch.config.link import Downstream, Upstream
from dispatch.config.model import Config, load_config
from dispatch.shared.clock import ManualClock
from dispatch.simulate.access import Credentials, tablet_units
from dispatch.simulate.clock import SteppedClock
from dispatch.simulate.runner import Settings, Simulator
from tests.conftest import Harness
from tests.link_servers import StartServer, free_port, issue_before_start, start_server
from tests.prefecture_standin import eventually

__all__ = ["start_server"]

ROOT = Path(__file__).parents[2]
COUNTY = load_config(ROOT / "config.yaml")
PREFECTURE = load_config(ROOT / "dispatch" / "config" / "samples" / "prefecture.yaml")
SPAN = 330.0  # the first piping comes 200-240 s into the day; the desk reads it within 25 s
RETRY = {"first": "1s", "max": "4s"}


def _linked(county_port: int, prefecture_port: int) -> tuple[Config, Config]:
    county = COUNTY.model_copy(
        update={
            "upstream": Upstream.model_validate(
                {"url": f"http://127.0.0.1:{prefecture_port}", "retry": RETRY}
            )
        }
    )
    below = Downstream.model_validate(
        {"county": COUNTY.root.id, "url": f"http://127.0.0.1:{county_port}", "retry": RETRY}
    )
    return county, PREFECTURE.model_copy(update={"downstream": [below]})


async def _get(server: Harness, path: str) -> Any:
    response = await server.client.get(path, headers=server.auth("admin"))
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.slow
async def test_simulate_flood_day_levee_piping_goes_up_and_an_instruction_comes_down(
    start_server: StartServer, clock: ManualClock, tmp_path: Path
) -> None:
    county_port, prefecture_port = free_port(), free_port()
    county_config, prefecture_config = _linked(county_port, prefecture_port)
    county_db, prefecture_db = (
        f"sqlite:///{tmp_path / 'county.db'}",
        f"sqlite:///{tmp_path / 'prefecture.db'}",
    )
    up = issue_before_start(prefecture_db, prefecture_config, COUNTY.root.id)
    down = issue_before_start(county_db, county_config, PREFECTURE.root.id)
    county = await start_server(county_config, county_db, port=county_port, link_tokens={"upstream": up})
    prefecture = await start_server(
        prefecture_config, prefecture_db, port=prefecture_port, link_tokens={f"county:{COUNTY.root.id}": down}
    )
    desk = issue_token(
        prefecture.runtime.write_engine,
        prefecture_config,
        role="dispatcher",
        name="simulator:prefecture-desk",
        now=time.time(),
    )

    async def fire_due_deadlines() -> None:
        for server in (county, prefecture):
            due = server.runtime.deadlines.next_due
            if due is not None and clock.now() >= due:
                await server.fire_deadlines()

    credentials = Credentials(
        gateway=county.token("gateway", "simulator"),
        responders={
            unit.id: county.token("responder", f"simulator:{unit.id}", responder=unit.id)
            for unit in tablet_units(county_config, 40)
        },
        desk=county.token("dispatcher", "simulator:desk"),
        prefecture=desk,
    )
    settings = Settings(
        url=str(county.client.make_url("/")),
        duration=SPAN,
        seed=11,
        prefecture_url=str(prefecture.client.make_url("/")).rstrip("/"),
    )
    out = io.StringIO()
    simulator = Simulator(
        county_config,
        settings,
        credentials,
        clock=SteppedClock(clock, fire_due_deadlines),
        out=out,
        tty=False,
    )

    tally = await simulator.run()

    assert tally.errors == 0, tally.error_kinds
    assert tally.instructions >= 1
    assert "prefecture instructions" in out.getvalue()
    # At the prefecture: the county's piping is an incident of its own, linked to the county's.
    above = (await _get(prefecture, "/api/v1/incidents?category=embankment_seepage"))["incidents"]
    assert above, "the levee piping did not come up"
    detail = await _get(prefecture, f"/api/v1/incidents/{above[-1]['id']}")
    assert detail["severity"] == 2
    assert detail["county_link"]["county"] == COUNTY.root.id
    county_incident = int(detail["county_link"]["county_incident_id"])
    (instruction,) = detail["instructions"]
    assert "管涌" in instruction["text"]
    # At the county: the instruction is on the piping incident and waits to be acknowledged.
    below = await _get(county, f"/api/v1/incidents/{county_incident}")
    assert below["category"] == "embankment_seepage" and below["severity"] == 2
    received = [event for event in below["timeline"] if event["type"] == "instruction_received"]
    assert [event["payload"]["text"] for event in received] == [instruction["text"]]
    (waiting,) = (await _get(county, "/api/v1/instructions?open=true"))["instructions"]
    assert waiting["identifier"] == instruction["identifier"]
    acknowledged = await county.client.post(
        f"/api/v1/incidents/{county_incident}/instructions/{waiting['identifier']}/acknowledge",
        headers=county.auth("dispatcher", name="duty-officer"),
    )
    assert acknowledged.status == 200, await acknowledged.text()

    async def seen_above() -> bool:
        detail = await _get(prefecture, f"/api/v1/incidents/{above[-1]['id']}")
        return bool(detail["instructions"][0]["state"] == "acknowledged")

    await eventually(seen_above, "the acknowledgement at the prefecture")
    kinds = {
        event["type"]
        for event in (await _get(prefecture, f"/api/v1/incidents/{above[-1]['id']}"))["timeline"]
    }
    assert {"instruction_sent", "instruction_acknowledged", "outbound_delivered"} <= kinds
