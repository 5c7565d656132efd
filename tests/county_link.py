"""A county server whose `upstream` is a given prefecture URL, on a real loopback socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from dispatch.config.model import Config
from dispatch.shared.clock import ManualClock
from tests.conftest import AUDIT_KEY, Harness, LoopbackServer
from tests.factories import make_config
from web.app import create_app
from web.keys import RUNTIME
from web.slow_clients import server_options

UPSTREAM_TOKEN = "county-token-issued-by-the-prefecture"

CountyFactory = Callable[..., Awaitable[Harness]]


def county_config(prefecture_url: str, **overrides: Any) -> Config:
    upstream = {"url": prefecture_url, "sender": "county", "retry": {"first": "1s", "max": "8s"}}
    return make_config(upstream=upstream | overrides.pop("upstream", {}), **overrides)


@pytest.fixture
async def make_county(database_url: str, clock: ManualClock) -> AsyncIterator[CountyFactory]:
    """Start a county server on the test's database; each call is a fresh process-like start."""
    running: list[TestClient[Any, Any]] = []

    async def make(config: Config, *, run_scheduler: bool = False) -> Harness:
        app = create_app(
            config,
            database_url=database_url,
            clock=clock,
            run_scheduler=run_scheduler,
            audit_key=AUDIT_KEY,
            link_tokens={"upstream": UPSTREAM_TOKEN},
        )
        client: TestClient[Any, Any] = TestClient(LoopbackServer(app, server_options(config)))
        await client.start_server()
        running.append(client)
        return Harness(client, app[RUNTIME], config)

    yield make
    for client in running:
        await client.close()
