"""kill -9 of a county (a real `dispatch serve`) while its outbox to the prefecture is full.

The prefecture is tests/prefecture_standin.py, answering 503 while the county's messages pile
up; after the kill and a restart, with the prefecture back, every message arrives, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
import yaml

from dispatch.storage import database
from dispatch.storage.tables import outbound_table
from tests.factories import alert, config_data
from tests.prefecture_standin import PrefectureStandIn, prefecture
from tests.test_crash import free_port, issue_tokens, server_process

__all__ = ["prefecture"]

pytestmark = pytest.mark.slow

INCIDENTS = 12
WAIT_S = 30.0
TOKEN_ENV = "DISPATCH_TEST_UPSTREAM_TOKEN"
TOKEN = "issued-by-the-prefecture"


def write_config(path: Path, prefecture_url: str) -> Path:
    data = config_data(
        upstream={
            "url": prefecture_url,
            "token_env": TOKEN_ENV,
            "sender": "county",
            "retry": {"first": "0.2s", "max": "1s"},
        }
    )
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def outbox(database_url: str) -> dict[str, str]:
    """identifier → state, as stored."""
    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            c = outbound_table.c
            return {
                identifier: state
                for identifier, state in connection.execute(sa.select(c.identifier, c.state))
            }
    finally:
        engine.dispose()


async def until(check: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        if check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def test_link_county_killed_with_a_full_outbox_sends_each_message_once_after_restart(
    tmp_path: Path, prefecture: PrefectureStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # the child process inherits it, as `serve` would
    config = write_config(tmp_path / "config.yaml", prefecture.url)
    database_url = f"sqlite:///{tmp_path / 'county.db'}"
    gateway, _admin = issue_tokens(config, database_url)
    port = free_port()
    prefecture.down = True

    async with server_process(config, database_url, port, tmp_path / "county.log") as first:
        await first.start()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {gateway}"}) as session:
            for n in range(INCIDENTS):  # apart from each other: each opens its own incident
                location = {"lat": 28.105 + 0.007 * (n % 12), "lon": 112.02 + 0.03 * (n // 12)}
                body = alert(f"crash-{n}", severity=2, source=f"gauge-{n}", location=location)
                async with session.post(f"{first.url}/api/v1/alerts", json=body) as response:
                    assert response.status == 202, await response.text()
        await until(lambda: len(outbox(database_url)) == INCIDENTS, "every Alert queued")
        await until(lambda: len(prefecture.received) >= 2, "the county trying while the prefecture is down")
        first.kill()
        await first.wait()

    queued = outbox(database_url)
    assert set(queued.values()) == {"queued"}
    prefecture.down = False

    async with server_process(config, database_url, port, tmp_path / "county.log") as second:
        await second.start()
        await until(lambda: len(prefecture.accepted) == INCIDENTS, "every message at the prefecture")
        await until(lambda: set(outbox(database_url).values()) == {"delivered"}, "all marked delivered")
        await second.terminate()

    assert set(prefecture.identifiers()) == set(queued)
    assert set(prefecture.identifiers().values()) == {1}
    after = [each for each in prefecture.received if each.status == 202]
    assert len(after) == INCIDENTS  # nothing posted twice once the prefecture took it
    assert {each.headers["Authorization"] for each in prefecture.received} == {f"Bearer {TOKEN}"}
    ids = [int(str(each.field("identifier")).rsplit(".", 1)[1]) for each in prefecture.accepted]
    assert ids == sorted(ids)
