"""The prefecture is gone for a minute: the county works on, its outbox holds, and on the
prefecture's return every message arrives once, in order, at the real prefecture.

Two real servers on loopback (tests/link_servers.py), the county reaching its prefecture through
a TCP proxy that is cut: the prefecture's host gone from the network, as a county sees it. The
minute is ManualClock time; each retry waits on it, never on a sleep.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import outbound_table
from tests.factories import EAST_N, WEST_N, WEST_S, alert
from tests.link_servers import Link, county_messages_at, start_server, two_levels_via_proxy
from tests.prefecture_standin import eventually
from tests.web.test_metrics import scrape, value

__all__ = ["start_server", "two_levels_via_proxy"]

CONNECTION_LOST = {"ClientOSError", "ServerDisconnectedError", "ClientConnectorError"}
"""How the county's last error names a prefecture whose host reset or refused the connection."""


async def _upstream(link: Link) -> dict[str, Any]:
    response = await link.county.client.get(
        "/api/v1/link", headers=link.county.auth("dispatcher", name="desk")
    )
    assert response.status == 200, await response.text()
    [upstream] = [
        each for each in (await response.json())["destinations"] if each["destination"] == "upstream"
    ]
    return dict(upstream)


async def _attempts(link: Link, times: int) -> bool:
    """The oldest waiting message has failed this often, as the county's link status says."""
    return bool((await _upstream(link))["attempts"] == times)


async def _county_outbox(link: Link) -> list[dict[str, Any]]:
    """The county's messages for its prefecture, in the order they were queued."""
    c = outbound_table.c
    query = (
        sa.select(c.incident_id, c.identifier, c.state, c.receipt)
        .where(c.destination == "upstream")
        .order_by(c.id)
    )
    rows = await link.county.runtime.read(lambda connection: connection.execute(query).mappings().all())
    return [dict(row) for row in rows]


async def test_link_prefecture_down_for_a_minute_then_every_message_arrives_once_in_order(
    two_levels_via_proxy: Link, clock: ManualClock
) -> None:
    link = two_levels_via_proxy
    assert link.proxy is not None
    link.proxy.cut()

    breach = (await link.county.post_alert(alert("down-0", severity=2, location=WEST_N)))["incident_id"]
    await eventually(lambda: _attempts(link, 1), "a first attempt, refused by the network")
    # A minute of clock time: the county answers alerts and its dispatchers' triggers as ever.
    work: list[tuple[str, Any]] = [
        ("alert", alert("down-1", severity=2, location=EAST_N, source="gauge-2")),
        ("trigger", (breach, "escalate")),
        ("alert", alert("down-2", severity=1, location=WEST_S, source="gauge-3")),
        ("trigger", (breach, "resolve")),
        ("trigger", (breach, "reopen")),
        ("trigger", (breach, "cancel")),
    ]
    incidents = [breach]
    for attempt, (kind, what) in enumerate(work, start=2):
        if kind == "alert":
            incidents.append((await link.county.post_alert(what))["incident_id"])
        else:
            await link.county.incident_trigger(what[0], what[1], {"reason": "测试"})
        clock.advance(10)
        await eventually(lambda attempt=attempt: _attempts(link, attempt), f"attempt {attempt}")
    await link.county.incident_trigger(incidents[1], "escalate", {"reason": "测试"})

    queued = await _county_outbox(link)
    status = await _upstream(link)
    assert (status["state"], status["queued"], status["attempts"]) == ("down", len(queued), 7)
    assert len(queued) == 3 + 4 + 1  # three Alerts, four changes of the breach, one of the second
    assert {row["state"] for row in queued} == {"queued"}
    assert status["last_error"].split(":")[0] in CONNECTION_LOST, status["last_error"]
    assert await county_messages_at(link.prefecture) == {}

    link.proxy.restore()
    clock.advance(10)

    async def all_delivered() -> bool:
        return {row["state"] for row in await _county_outbox(link)} == {"delivered"}

    await eventually(all_delivered, "every queued message delivered")
    sent = await _county_outbox(link)
    assert [row["identifier"] for row in sent] == [row["identifier"] for row in queued]
    assert {row["receipt"]["duplicate"] for row in sent} == {False}  # each taken once, as new
    by_county_incident = await county_messages_at(link.prefecture)  # one incident per county incident
    assert set(by_county_incident) == set(incidents)
    for county_incident, updates in by_county_incident.items():
        in_county_order = [row["identifier"] for row in queued if row["incident_id"] == county_incident]
        assert [each["identifier"] for each in updates] == in_county_order  # in order, none twice
        assert updates[0]["msg_type"] == "Alert"
    breach_updates = by_county_incident[breach]
    assert [each["msg_type"] for each in breach_updates] == ["Alert", "Update", "Update", "Update", "Cancel"]
    assert [each["change"] for each in breach_updates[1:]] == [
        "incident_escalated",
        "incident_resolved",
        "incident_reopened",
        "incident_cancelled",
    ]
    assert [each["msg_type"] for each in by_county_incident[incidents[1]]] == ["Alert", "Update"]

    async def up() -> bool:
        return (await _upstream(link))["state"] == "up"

    await eventually(up, "the link up again")
    samples = await scrape(link.county)
    assert value(samples, "dispatch_outbound_queued", destination="upstream") == 0
    assert value(samples, "dispatch_outbound_failures_total", destination="upstream") == 7
    assert value(samples, "dispatch_outbound_delivered_total", destination="upstream") == len(queued)
