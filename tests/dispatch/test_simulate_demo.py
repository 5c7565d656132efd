"""`dispatch serve --demo`: its URLs and logins are printed and work, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from dispatch.access import accounts, tokens
from dispatch.cli.main import main
from dispatch.config.model import load_config
from dispatch.simulate.demo import pick_demo_unit
from dispatch.simulate.demo_link import Pairing
from dispatch.storage import database
from dispatch.storage.tables import token_table
from tests.factories import make_config

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "config.yaml"
PREFECTURE = ROOT / "dispatch" / "config" / "samples" / "prefecture.yaml"
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


def _grant(database_file: Path, token: str) -> tokens.TokenGrant | None:
    engine = database.create_engine(f"sqlite:///{database_file}")
    try:
        database.create_schema(engine)
        with engine.connect() as connection:
            return tokens.lookup_grant(connection, token)
    finally:
        engine.dispose()


def test_simulate_demo_two_levels_exchange_their_tokens_in_a_private_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --demo --upstream URL` and the prefecture's demo: each issues, in its own fresh
    database, the token the other posts with, bound to the other's CAP sender, and reads the
    other's from a file at every attempt (so either may start first)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    county = Pairing.of(load_config(CONFIG), "http://127.0.0.1:8091")
    prefecture = Pairing.of(load_config(PREFECTURE), None)
    assert Pairing.of(load_config(CONFIG), None) is None  # a demo alone changes nothing
    assert county is not None and prefecture is not None and county.place == prefecture.place
    up, down = county.config.upstream, prefecture.config.downstream[0]
    assert up is not None and up.url == "http://127.0.0.1:8091" and down.token_env is None
    assert county.desk_token() is None  # the prefecture has not started yet

    county.issue(f"sqlite:///{tmp_path / 'county.db'}")
    prefecture.issue(f"sqlite:///{tmp_path / 'prefecture.db'}")

    assert oct(county.place.stat().st_mode & 0o777) == "0o700"
    assert up.token_file is not None and down.token_file is not None
    posted_up = Path(up.token_file).read_text(encoding="utf-8").strip()
    posted_down = Path(down.token_file).read_text(encoding="utf-8").strip()
    assert oct(Path(up.token_file).stat().st_mode & 0o777) == "0o600"
    at_prefecture = _grant(tmp_path / "prefecture.db", posted_up)
    at_county = _grant(tmp_path / "county.db", posted_down)
    desk = _grant(tmp_path / "prefecture.db", county.desk_token() or "")
    assert at_prefecture is not None and at_county is not None and desk is not None
    assert at_prefecture.principal.binding is not None and at_county.principal.binding is not None
    assert at_prefecture.principal.binding.cap_senders == ("yuanjiang",)
    assert at_county.principal.binding.cap_senders == ("yiyang",)
    assert desk.principal.role == "dispatcher" and desk.principal.jurisdiction_id is None


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["serve", "--upstream", "http://127.0.0.1:8081"], "--upstream goes with --demo"),
        (["serve", "--demo", "--upstream", "ftp://prefecture"], "--upstream: 'ftp://prefecture' is not"),
    ],
)
def test_simulate_demo_upstream_refused_in_one_line(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--config", str(CONFIG)]) == 2
    assert said in capsys.readouterr().err
