"""Fixtures: a real SQLite file and a real PostgreSQL database per test, a real loopback server."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import SQLModel

from dispatch.access.auth import issue_token
from dispatch.config.model import Config
from dispatch.shared.clock import ManualClock
from dispatch.storage import database
from dispatch.storage.audit_key import AuditKey
from tests.factories import make_config
from web.app import create_app
from web.core_host import CoreHost
from web.keys import RUNTIME
from web.runtime import Runtime
from web.slow_clients import server_options

AUDIT_KEY = AuditKey(b"tests-audit-key-0123456789abcdef0123456789", "tests")
"""What every test server signs its event log with (PostgreSQL has no default key)."""

POSTGRES_ADMIN_URL = os.environ.get("DISPATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_url(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One PostgreSQL database for the test session, its schema made once as serve makes it."""
    name = f"dispatch_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = database.create_engine(_postgres_url(name))
    try:
        database.create_schema(engine)
    finally:
        engine.dispose()
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied: every test starts from no rows at all.

    Emptying the tables costs a fraction of making a database per test (which dominated the
    PostgreSQL tests' time). Whatever a previous test left connected is disconnected first, so
    no lock it held can block this one.
    """
    url = _postgres_url(postgres_database)
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        connection.execute("SET lock_timeout = '10s'")
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dispatch.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs twice: on a SQLite file and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@dataclass
class Harness:
    """A running server on a loopback port, with its runtime and a client."""

    client: TestClient[Any, Any]
    runtime: Runtime
    config: Config
    tokens: dict[str, str] = field(default_factory=dict)
    front: Runtime | None = None
    """With `make_split_server`: the front's runtime (its hub, its sockets); `runtime` is the core's."""

    def token(
        self,
        role: str,
        name: str | None = None,
        *,
        jurisdiction: str | None = None,
        responder: str | None = None,
        department: str | None = None,
    ) -> str:
        key = f"{role}:{name}:{jurisdiction}:{responder}:{department}"
        if key not in self.tokens:
            self.tokens[key] = issue_token(
                self.runtime.write_engine,
                self.config,
                role=role,
                name=name or role,
                jurisdiction=jurisdiction,
                responder=responder,
                department=department,
                now=time.time(),
            )
        return self.tokens[key]

    def auth(self, role: str = "dispatcher", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **kwargs)}"}

    async def post_alert(self, body: Any, *, expect: int = 202) -> Any:
        response = await self.client.post("/api/v1/alerts", json=body, headers=self.auth("gateway"))
        assert response.status == expect, await response.text()
        return await response.json()

    async def incident(self, incident_id: int) -> Any:
        response = await self.client.get(f"/api/v1/incidents/{incident_id}", headers=self.auth("admin"))
        assert response.status == 200, await response.text()
        return await response.json()

    async def incident_trigger(
        self, incident_id: int, trigger: str, body: Any = None, *, expect: int = 200, **auth: Any
    ) -> Any:
        response = await self.client.post(
            f"/api/v1/incidents/{incident_id}/{trigger}",
            json=body,
            headers=self.auth(**(auth or {"role": "admin"})),
        )
        assert response.status == expect, await response.text()
        return await response.json()

    async def task_trigger(
        self, task_id: int, trigger: str, responder: str, *, expect: int = 200, body: Any = None
    ) -> Any:
        response = await self.client.post(
            f"/api/v1/tasks/{task_id}/{trigger}",
            json=body,
            headers=self.auth("responder", name=responder, responder=responder),
        )
        assert response.status == expect, await response.text()
        return await response.json()

    async def fire_deadlines(self) -> int:
        return await self.runtime.deadlines.run_once()


ServerFactory = Callable[..., Awaitable[Harness]]


class LoopbackServer(TestServer):
    """aiohttp's test server with the options `serve` gives aiohttp (and any the test adds)."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        super().__init__(app)
        self._options = options

    async def _make_runner(self, **kwargs: Any) -> Any:
        return await super()._make_runner(**{**kwargs, **self._options})


@pytest.fixture
async def make_server(
    database_url: str, clock: ManualClock, make_split_server: ServerFactory
) -> AsyncIterator[ServerFactory]:
    """Start servers on the test's database; each call is a fresh process-like start.

    DISPATCH_TEST_FRONTS=1 runs every test of this fixture against a front and its core instead
    (`serve --workers N` in one process): `DISPATCH_TEST_FRONTS=1 .venv/bin/pytest tests/web`."""
    if os.environ.get("DISPATCH_TEST_FRONTS") == "1":
        yield make_split_server
        return
    running: list[TestClient[Any, Any]] = []

    async def make(config: Config | None = None, *, run_scheduler: bool = False, **server: Any) -> Harness:
        """`server`: aiohttp server options over those `serve` uses (web/slow_clients.py)."""
        config = config or make_config()
        app = create_app(
            config, database_url=database_url, clock=clock, run_scheduler=run_scheduler, audit_key=AUDIT_KEY
        )
        client: TestClient[Any, Any] = TestClient(LoopbackServer(app, {**server_options(config), **server}))
        await client.start_server()
        running.append(client)
        return Harness(client, app[RUNTIME], config)

    yield make
    for client in running:
        await client.close()


@pytest.fixture
async def server(make_server: ServerFactory) -> Harness:
    return await make_server()


@pytest.fixture
async def make_split_server(
    database_url: str, clock: ManualClock, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerFactory]:
    """`serve --workers N` in this process: a core (runtime + bus server) and a front app calling
    it over a real process bus. The harness's client talks to the front; its runtime is the core's."""
    running: list[TestClient[Any, Any]] = []

    async def make(config: Config | None = None, *, run_scheduler: bool = False, **server: Any) -> Harness:
        config = config or make_config()
        core_app = create_app(
            config, database_url=database_url, clock=clock, run_scheduler=run_scheduler, audit_key=AUDIT_KEY
        )
        core: TestClient[Any, Any] = TestClient(LoopbackServer(core_app, server_options(config)))
        await core.start_server()
        bus = str(tmp_path_factory.mktemp("bus") / "core.sock")
        host = CoreHost(core_app[RUNTIME], bus)
        await host.start()
        front_app = create_app(config, database_url=database_url, clock=clock, core_bus=bus)

        async def stop_core(_app: Any) -> None:  # the front stops first, then its core: as `serve` does
            await host.close()
            await core.close()

        front_app.on_cleanup.append(stop_core)
        options = {**server_options(config), **server}
        front: TestClient[Any, Any] = TestClient(LoopbackServer(front_app, options))
        await front.start_server()
        running.append(front)
        harness = Harness(front, core_app[RUNTIME], config)
        harness.front = front_app[RUNTIME]
        return harness

    yield make
    for client in running:
        await client.close()


@pytest.fixture
def engine_for() -> Iterator[Callable[[str], Any]]:
    engines: list[Any] = []

    def make(url: str) -> Any:
        engine = database.create_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


# Browser tests' fixtures (Chromium through Playwright): tests/screens.py.
pytest_plugins = ["tests.screens"]
