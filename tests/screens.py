"""Browser tests' world: Debian's Chromium through Playwright, a real server on loopback, people.

The browser starts once per test session (`browser`); each test gets its own server on a fresh
SQLite file (`screen_server`), logs people in through the real login page, and saves
screenshots under `test-output/screenshots/<test>/` (or `$DISPATCH_TEST_OUTPUT`) for a
reviewer to open. The server's clock is a ManualClock that starts at the real time, so the
pages' countdowns read sensibly and a test can still move time on by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
    expect,
)

from dispatch.access import accounts
from dispatch.access.auth import issue_token
from dispatch.config.model import Config
from dispatch.shared.clock import ManualClock
from tests.factories import make_config
from web.app import create_app
from web.keys import RUNTIME
from web.runtime import Runtime

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-9"
OUTPUT = Path(os.environ.get("DISPATCH_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))
WAIT_MS = 10_000
"""How long an expectation may take to come true: a safety net against hangs, never a timing test."""
expect.set_options(timeout=WAIT_MS)

CONSOLE_FULL_HD = ViewportSize(width=1920, height=1080)
CONSOLE_LAPTOP = ViewportSize(width=1366, height=768)
TABLET = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
BIG_SCREEN = ViewportSize(width=1920, height=1080)

# As the probe of this machine kind found: without these flags Chromium's background
# connections are refused by the closed network, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk (.ci/run does)")
    async with async_playwright() as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    await launched.close()


@dataclass
class ScreenServer:
    """A running server on a loopback port, the people who may log in, and their browsers."""

    client: TestClient[Any, Any]
    runtime: Runtime
    config: Config
    clock: ManualClock
    browser: Browser
    shots: Path
    contexts: list[BrowserContext] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    def user(
        self,
        name: str,
        role: str,
        *,
        jurisdiction: str | None = None,
        responder: str | None = None,
        department: str | None = None,
    ) -> str:
        accounts.add_user(
            self.runtime.write_engine,
            self.config,
            name=name,
            role=role,
            password=PASSWORD,
            jurisdiction=jurisdiction,
            responder=responder,
            department=department,
            now=time.time(),
        )
        return name

    def token(self, role: str, name: str | None = None, **scope: Any) -> str:
        key = f"{role}:{name}:{sorted(scope.items())}"
        if key not in self.tokens:
            self.tokens[key] = issue_token(
                self.runtime.write_engine, self.config, role=role, name=name or role, now=time.time(), **scope
            )
        return self.tokens[key]

    async def post_alert(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {self.token('gateway')}"}
        )
        assert response.status == 202, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def api(self, method: str, path: str, body: Any = None, *, role: str = "admin") -> Any:
        response = await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token(role)}"}
        )
        assert response.status < 300, await response.text()
        return await response.json()

    async def page(self, viewport: ViewportSize, *, language: str | None = None) -> Page:
        """A new browser (context) of its own: its own cookies, storage and service workers."""
        context = await self.browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=self.url
        )
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        # Requests still in flight when the test ends: the server must not be stopped under them
        # (aiohttp leaks a static file's handle when its open is cancelled at shutdown).
        page.on("request", lambda _request: self._started())
        page.on("requestfinished", lambda _request: self._ended())
        page.on("requestfailed", lambda _request: self._ended())
        if language is not None:
            await page.add_init_script(f"localStorage.setItem('dispatch.language', '{language}')")
        return page

    def _started(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def _ended(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if self.in_flight == 0:
            self.idle.set()

    async def settle(self) -> None:
        """Until no page has a request in flight (a safety net of WAIT_MS, never a timing test)."""
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.idle.wait(), WAIT_MS / 1000)

    async def login(self, page: Page, name: str, *, expect_path: str | None = None) -> None:
        """Through the login page, as a person would."""
        await page.goto("/")
        await page.get_by_label(re.compile("用户名|User name")).fill(name)
        await page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
        await page.get_by_role("button", name=re.compile("^(登录|Log in)$")).click()
        if expect_path is not None:
            await page.wait_for_url(f"**{expect_path}")

    async def shot(self, page: Page, name: str) -> Path:
        """A screenshot for the reviewer, under this test's folder."""
        path = self.shots / f"{name}.png"
        # A panel mid-slide (the console's detail at 1366 wide) would be shot half off-screen:
        # Playwright ends CSS transitions and animations first.
        await page.screenshot(path=str(path), animations="disabled")
        return path


ScreenServerFactory = Callable[..., Awaitable[ScreenServer]]


def _test_folder(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = OUTPUT / "screenshots" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest_asyncio.fixture(loop_scope="session")
async def make_screen_server(
    browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ScreenServerFactory]:
    servers: list[ScreenServer] = []

    async def make(
        config: Config | None = None,
        *,
        start: float | None = None,
        database_url: str | None = None,
        port: int | None = None,
        **options: Any,
    ) -> ScreenServer:
        """`start`: the server clock's first reading (default now; the pages correct for the offset).

        `database_url` and `port`: where, when a peer must know before it starts (a linked
        county and prefecture); `options`: more of create_app's arguments (link_tokens).
        """
        config = config or make_config()
        clock = ManualClock(start=time.time() if start is None else start)
        database_url = database_url or f"sqlite:///{tmp_path / f'screens-{len(servers)}.db'}"
        app = create_app(config, database_url=database_url, clock=clock, run_scheduler=False, **options)
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        server = ScreenServer(client, app[RUNTIME], config, clock, browser, _test_folder(request))
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.settle()
        for context in server.contexts:
            await context.close()
        await server.client.close()
    errors = [error for server in servers for error in server.page_errors]
    assert not errors, f"the pages threw: {errors}"


@pytest_asyncio.fixture(loop_scope="session")
async def screen_server(make_screen_server: ScreenServerFactory) -> ScreenServer:
    return await make_screen_server()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `check()` holds (the server's side of a browser action lands asynchronously)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)
