"""A county and its prefecture on loopback, and a county's CAP messages as its outbox writes them."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dispatch.access.auth import issue_token
from dispatch.config.model import Config
from dispatch.shared.clock import ManualClock
from dispatch.storage import database
from tests.conftest import AUDIT_KEY, Harness, LoopbackServer, ServerFactory
from tests.factories import config_data, make_config, node, responder
from web.app import create_app
from web.keys import RUNTIME
from web.slow_clients import server_options

PREFECTURE = "yiyang"
COUNTY = "city"
"""The county is the test city (tests/factories.py): its top node's id is its CAP sender id."""


def prefecture_config(**overrides: Any) -> Config:
    """益阳市 above two counties: the test city (沅江市) and its neighbour."""
    return make_config(
        prefecture=None,
        jurisdictions=[
            {**node(PREFECTURE, "city", None, (111.6, 27.8, 112.4, 28.4)), "name": "益阳市应急指挥中心"},
            {**node(COUNTY, "town", PREFECTURE, (112.0, 28.0, 112.4, 28.2)), "name": "沅江市"},
            {**node("heshan", "town", PREFECTURE, (111.6, 27.8, 112.0, 28.0)), "name": "赫山区"},
        ],
        policies={
            name: {**policy, "notify_prefecture": False} for name, policy in config_data()["policies"].items()
        },
        responders=[
            responder("pref-duty-1", COUNTY, 28.1, 112.2),
            responder("pref-duty-2", PREFECTURE, 28.1, 112.0),
        ],
        **overrides,
    )


def county_config(**overrides: Any) -> Config:
    return make_config(prefecture={"id": PREFECTURE, "name": "益阳市应急指挥中心"}, **overrides)


def link_token(server: Harness, peer: str, *, name: str | None = None) -> dict[str, str]:
    """A gateway token of `server` bound to `peer`'s CAP sender: what the peer's outbox posts with."""
    token = issue_token(
        server.runtime.write_engine,
        server.config,
        role="gateway",
        name=name or peer,
        cap_senders=[peer],
        now=time.time(),
    )
    return {"Authorization": f"Bearer {token}"}


def cap(
    identifier: str,
    incident: int | str,
    *,
    clock: ManualClock,
    msg_type: str = "Alert",
    references: list[str] = (),  # type: ignore[assignment]
    severity: str = "Severe",
    category: str = "waterlogging",
    state: str = "reported",
    change: str = "incident_reported",
    sender: str = COUNTY,
) -> bytes:
    """A county's CAP 1.2 message about its incident, as the contract has the outbox write it."""
    sent = datetime.fromtimestamp(clock.now(), UTC).astimezone().isoformat(timespec="seconds")
    refs = " ".join(f"{sender},{each},{sent}" for each in references)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Private</scope>
  <addresses>{PREFECTURE}</addresses>
  {f"<references>{refs}</references>" if refs else ""}
  <incidents>{incident}</incidents>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>内涝</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <eventCode><valueName>dispatch:category</valueName><value>{category}</value></eventCode>
    <headline>沅江市 内涝 II级</headline>
    <description>琼湖路积水 40 厘米</description>
    <parameter><valueName>dispatch:state</valueName><value>{state}</value></parameter>
    <parameter><valueName>dispatch:change</valueName><value>{change}</value></parameter>
    <area><areaDesc>沅江市</areaDesc><circle>28.15,112.1 0</circle></area>
  </info>
</alert>""".encode()


@dataclass
class Link:
    """A county and its prefecture, each with the token the other's outbox posts with."""

    county: Harness
    prefecture: Harness
    county_at_prefecture: dict[str, str]
    """The county's token at the prefecture (bound to CAP sender `city`)."""
    prefecture_at_county: dict[str, str]
    """The prefecture's token at the county (bound to CAP sender `yiyang`)."""

    async def post_cap(self, body: bytes, *, expect: int = 202, headers: dict[str, str] | None = None) -> Any:
        response = await self.prefecture.client.post(
            "/api/v1/link/cap",
            data=body,
            headers={**(headers or self.county_at_prefecture), "Content-Type": "application/xml"},
        )
        assert response.status == expect, await response.text()
        return await response.json()


StartServer = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_server(clock: ManualClock) -> AsyncIterator[StartServer]:
    """A server on a database of its own (the prefecture is another machine's server)."""
    running: list[TestClient[Any, Any]] = []

    async def start(
        config: Config, url: str, *, port: int | None = None, link_tokens: dict[str, str] | None = None
    ) -> Harness:
        app = create_app(
            config,
            database_url=url,
            clock=clock,
            run_scheduler=False,
            audit_key=AUDIT_KEY,
            link_tokens=link_tokens,
        )
        server = LoopbackServer(app, server_options(config))
        server.port = port
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        running.append(client)
        return Harness(client, app[RUNTIME], config)

    yield start
    for client in running:
        await client.close()


@pytest.fixture
async def link(make_server: ServerFactory, start_server: StartServer, tmp_path: Path) -> Link:
    """The county on the test's database (SQLite and PostgreSQL), its prefecture on a SQLite file."""
    county = await make_server(county_config())
    prefecture = await start_server(prefecture_config(), f"sqlite:///{tmp_path / 'prefecture.db'}")
    return Link(county, prefecture, link_token(prefecture, COUNTY), link_token(county, PREFECTURE))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _issue_before_start(url: str, config: Config, peer: str) -> str:
    """A token the peer's outbox will post with, issued before the server starts (it must know it)."""
    engine = database.create_engine(url, writer=True)
    try:
        database.create_schema(engine)
        return issue_token(engine, config, role="gateway", name=peer, cap_senders=[peer], now=time.time())
    finally:
        engine.dispose()


@pytest.fixture
async def two_levels(database_url: str, start_server: StartServer, tmp_path: Path) -> Link:
    """A county whose `upstream` is its prefecture, and a prefecture whose `downstream` is the county:
    both outboxes real, each posting with the token the other issued."""
    county_port, prefecture_port = _free_port(), _free_port()
    prefecture_url = f"sqlite:///{tmp_path / 'prefecture.db'}"
    retry = {"first": "1s", "max": "8s"}
    county = county_config(
        upstream={"url": f"http://127.0.0.1:{prefecture_port}", "sender": COUNTY, "retry": retry}
    )
    prefecture = prefecture_config(
        downstream=[{"county": COUNTY, "url": f"http://127.0.0.1:{county_port}", "retry": retry}]
    )
    to_prefecture = _issue_before_start(prefecture_url, prefecture, COUNTY)
    to_county = _issue_before_start(database_url, county, PREFECTURE)
    county_server = await start_server(
        county, database_url, port=county_port, link_tokens={"upstream": to_prefecture}
    )
    prefecture_server = await start_server(
        prefecture, prefecture_url, port=prefecture_port, link_tokens={f"county:{COUNTY}": to_county}
    )
    return Link(
        county_server,
        prefecture_server,
        {"Authorization": f"Bearer {to_prefecture}"},
        {"Authorization": f"Bearer {to_county}"},
    )
