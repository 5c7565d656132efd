"""`dispatch serve --demo`: its URLs and logins are printed and work, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from dispatch.access import accounts
from dispatch.config.model import load_config
from dispatch.simulate.demo import pick_demo_unit
from dispatch.storage import database
from dispatch.storage.tables import token_table
from tests.factories import make_config

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "config.yaml"
HUMAN_UNIT = "grid-qingyunshan-heping-1"
WAIT = 60.0  # a safety net against hangs, never a timing assertion


def _demo_directories(where: Path) -> list[Path]:
    return [each for each in where.iterdir() if each.name.startswith("dispatch-demo-")]


async def _login(url: str, name: str, password: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/v1/session", json={"name": name, "password": password}) as response,
    ):
        assert response.status == 200, await response.text()
        user: dict[str, Any] = (await response.json())["user"]
        return user


def _stored(database_file: Path) -> tuple[dict[str, dict[str, object]], list[str]]:
    """The demo's accounts and the names of the tokens it issued, read from its database."""
    engine = database.create_engine(f"sqlite:///{database_file}")
    try:
        users = {str(user["name"]): user for user in accounts.list_users(engine)}
        with engine.connect() as connection:
            names = [str(name) for name in connection.execute(sa.select(token_table.c.name)).scalars()]
    finally:
        engine.dispose()
    return users, names


async def test_simulate_demo_unit_is_alone_in_a_street_a_camera_watches() -> None:
    assert (unit := pick_demo_unit(load_config(CONFIG))) is not None and unit.id == HUMAN_UNIT
    # No camera, no urban street: the first street with a single unit.
    assert (unit := pick_demo_unit(make_config())) is not None and unit.id == "grid-west-s-1"


@pytest.mark.slow
async def test_simulate_demo_prints_logins_that_work_and_ctrl_c_removes_everything(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatch",
        "serve",
        "--demo",
        "--port",
        "0",
        "--config",
        str(CONFIG),
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        printed = ""
        while "Big screen" not in printed or "private window" not in printed:
            line = await asyncio.wait_for(process.stdout.readline(), WAIT)
            assert line, printed
            printed += line.decode()
        [url] = re.findall(r"登录 Log in\s+(http://127\.0\.0\.1:\d+)/", printed)
        [password] = re.findall(r"password for all: (\S+)", printed)
        dispatcher = await _login(url, "demo", password)
        unit = await _login(url, "demo-unit", password)
        [directory] = _demo_directories(tmp_path)
        users, tokens = await asyncio.to_thread(_stored, directory / "demo.db")
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), WAIT)

    for path in ("/", "/console/", "/tablet/", "/screen/"):
        assert f"{url}{path}" in printed
    assert printed.count(password) == 1
    assert (dispatcher["role"], dispatcher["jurisdiction"]) == ("dispatcher", "yuanjiang")
    assert (unit["role"], unit["responder"]) == ("responder", HUMAN_UNIT)
    town = users["demo-town"]
    assert (town["role"], town["jurisdiction_id"]) == ("dispatcher", "qingyunshan")
    assert users["hall"]["role"] == "screen"
    # Every unit has a virtual tablet but the human's.
    units = {f"simulator:{unit.id}" for unit in load_config(CONFIG).responders}
    assert set(tokens) & units == units - {f"simulator:{HUMAN_UNIT}"}
    assert {"simulator", "simulator:desk"} <= set(tokens)

    assert process.returncode == 0, rest.decode()
    assert "demo stopped, its database deleted" in rest.decode()
    assert not _demo_directories(tmp_path)
