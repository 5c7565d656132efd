"""kill -9 of a county (a real `dispatch serve`) with messages for its prefecture in its outbox.

The prefecture is the real one: our own server with the prefecture's config and its own database,
on loopback (tests/link_servers.py), on the system clock as the county's process is (the
prefecture refuses a CAP `sent` more than 10 minutes ahead of its own clock). After the county's
restart every message the county queued is at the prefecture once, in the county's order per
incident, checked there: one incident per county incident (its `county_link`), each message once
on that incident's timeline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import yaml

from dispatch.shared.clock import SystemClock
from dispatch.storage import database
from dispatch.storage.tables import outbound_table
from tests.factories import alert, config_data
from tests.link_servers import (
    COUNTY,
    PREFECTURE,
    StartServer,
    county_messages_at,
    issue_before_start,
    prefecture_config,
    start_server,
)
from tests.tcp_proxy import TcpProxy
from tests.test_crash import Server, free_port, issue_tokens, server_process

__all__ = ["start_server"]

pytestmark = pytest.mark.slow

WAIT_S = 30.0
TOKEN_ENV = "DISPATCH_TEST_UPSTREAM_TOKEN"
CHANGES: list[tuple[str, ...]] = [(), ("escalate",), ("escalate", "resolve"), ("cancel",)]
"""What the county's dispatchers do to each incident, cycled: each change is one more message."""
INCIDENTS = 8


def write_config(path: Path, prefecture_url: str) -> Path:
    data = config_data(
        prefecture={"id": PREFECTURE, "name": "益阳市应急指挥中心"},
        upstream={
            "url": prefecture_url,
            "token_env": TOKEN_ENV,
            "sender": COUNTY,
            "retry": {"first": "0.2s", "max": "1s"},
            "timeout": "30s",
        },
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def outbox(database_url: str) -> list[dict[str, Any]]:
    """The county's messages for its prefecture, as stored, in the order they were queued."""
    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            c = outbound_table.c
            query = (
                sa.select(c.incident_id, c.identifier, c.state, c.attempts, c.receipt)
                .where(c.destination == "upstream")
                .order_by(c.id)
            )
            return [dict(row) for row in connection.execute(query).mappings()]
    finally:
        engine.dispose()


async def until(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Real processes, real time: wait for it, naming it."""
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        done = check()
        if done if isinstance(done, bool) else await done:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def work_the_county(county: Server, gateway: str, admin: str, incidents: int) -> list[int]:
    """Severity II alerts far apart (each its own incident), and its dispatchers' changes to them."""
    opened: list[int] = []
    async with aiohttp.ClientSession() as session:
        for n in range(incidents):
            location = {"lat": 28.105 + 0.007 * (n % 12), "lon": 112.02 + 0.03 * (n // 12)}
            body = alert(f"crash-{n}", severity=2, source=f"gauge-{n}", location=location)
            headers = {"Authorization": f"Bearer {gateway}"}
            async with session.post(f"{county.url}/api/v1/alerts", json=body, headers=headers) as response:
                assert response.status == 202, await response.text()
                opened.append((await response.json())["incident_id"])
        for n, incident_id in enumerate(opened):
            for trigger in CHANGES[n % len(CHANGES)]:
                async with session.post(
                    f"{county.url}/api/v1/incidents/{incident_id}/{trigger}",
                    json={"reason": "测试"},
                    headers={"Authorization": f"Bearer {admin}"},
                ) as response:
                    assert response.status == 200, await response.text()
    return opened


def expected_types(n: int) -> list[str]:
    changes = CHANGES[n % len(CHANGES)]
    return ["Alert", *("Cancel" if change == "cancel" else "Update" for change in changes)]


async def assert_each_once_in_order(
    prefecture: Any, queued: list[dict[str, Any]], opened: list[int]
) -> dict[int, list[dict[str, Any]]]:
    """At the prefecture: one incident per county incident, holding the county's messages of it
    in the county's order, none twice, none missing."""
    held = await county_messages_at(prefecture)
    assert set(held) == set(opened)
    for n, county_incident in enumerate(opened):
        in_county_order = [row["identifier"] for row in queued if row["incident_id"] == county_incident]
        assert [each["identifier"] for each in held[county_incident]] == in_county_order
        assert [each["msg_type"] for each in held[county_incident]] == expected_types(n)
    assert sum(len(messages) for messages in held.values()) == len(queued)
    return held


async def test_link_county_killed_with_a_full_outbox_its_prefecture_gets_each_message_once(
    tmp_path: Path, start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefecture_port = free_port()  # reserved: the prefecture is not up yet
    prefecture_db = f"sqlite:///{tmp_path / 'prefecture.db'}"
    prefecture = prefecture_config()
    monkeypatch.setenv(TOKEN_ENV, issue_before_start(prefecture_db, prefecture, COUNTY))  # as `serve` reads
    config = write_config(tmp_path / "county.yaml", f"http://127.0.0.1:{prefecture_port}")
    county_db = f"sqlite:///{tmp_path / 'county.db'}"
    gateway, admin = issue_tokens(config, county_db)
    port = free_port()

    async with server_process(config, county_db, port, tmp_path / "county.log") as first:
        await first.start()
        opened = await work_the_county(first, gateway, admin, INCIDENTS)
        await until(lambda: outbox(county_db)[0]["attempts"] >= 2, "the county trying, the prefecture not up")
        first.kill()
        await first.wait()

    queued = outbox(county_db)
    assert len(queued) == sum(len(expected_types(n)) for n in range(INCIDENTS))
    assert {row["state"] for row in queued} == {"queued"}

    async with server_process(config, county_db, port, tmp_path / "county.log") as second:
        await second.start()
        at_prefecture = await start_server(
            prefecture, prefecture_db, port=prefecture_port, on_clock=SystemClock()
        )
        await until(lambda: {row["state"] for row in outbox(county_db)} == {"delivered"}, "all delivered")
        await second.terminate()

    await assert_each_once_in_order(at_prefecture, queued, opened)
    assert {row["receipt"]["duplicate"] for row in outbox(county_db)} == {False}


async def test_link_county_killed_before_it_heard_the_prefecture_took_a_message_sends_it_once_more(
    tmp_path: Path, start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefecture takes the first message; its answer is held on the way back and the county
    dies not knowing. After the restart the county posts it again: the prefecture answers
    `duplicate` and keeps it once; the rest follow in order."""
    prefecture_db = f"sqlite:///{tmp_path / 'prefecture.db'}"
    prefecture = prefecture_config()
    monkeypatch.setenv(TOKEN_ENV, issue_before_start(prefecture_db, prefecture, COUNTY))
    proxy = TcpProxy("127.0.0.1", free_port())
    proxy.start()
    county_db = f"sqlite:///{tmp_path / 'county.db'}"
    config = write_config(tmp_path / "county.yaml", f"http://127.0.0.1:{proxy.port}")
    gateway, admin = issue_tokens(config, county_db)
    port = free_port()
    try:
        at_prefecture = await start_server(
            prefecture, prefecture_db, port=proxy.upstream[1], on_clock=SystemClock()
        )
        proxy.hold_answers()
        async with server_process(config, county_db, port, tmp_path / "county.log") as first:
            await first.start()
            opened = await work_the_county(first, gateway, admin, 2)

            async def taken() -> bool:
                return bool(await county_messages_at(at_prefecture))

            await until(taken, "the first message taken at the prefecture, its answer held")
            first.kill()
            await first.wait()

        queued = outbox(county_db)
        assert {row["state"] for row in queued} == {"queued"}  # the county never heard
        proxy.release_answers()
        async with server_process(config, county_db, port, tmp_path / "county.log") as second:
            await second.start()
            await until(lambda: {row["state"] for row in outbox(county_db)} == {"delivered"}, "all delivered")
            await second.terminate()
    finally:
        proxy.close()

    await assert_each_once_in_order(at_prefecture, queued, opened)
    receipts = [row["receipt"] for row in outbox(county_db)]
    assert [receipt["duplicate"] for receipt in receipts] == [True] + [False] * (len(receipts) - 1)
    assert receipts[0]["identifier"] == queued[0]["identifier"]
