"""`dispatch serve --demo`: the server and the simulator in one process, on a throwaway database.

A newcomer's first command: it prints where to log in and with what, and a flood day starts
at once. One grid worker's tablet is left to the human (`demo-unit`): the tasks of its street
wait for someone to accept them on the real tablet page, or escalate when nobody does.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aiohttp import web
from shapely.geometry import Point as ShapelyPoint

from dispatch.access.accounts import add_user
from dispatch.config.model import Config, Jurisdiction, Responder, Tier
from dispatch.simulate import access
from dispatch.simulate.clock import SimulationClock
from dispatch.simulate.places import is_urban
from dispatch.simulate.runner import Settings, Simulator, stop_on_sigterm
from dispatch.storage import database
from dispatch.storage.audit_key import AuditKey
from web.app import create_app

CITY_DISPATCHER = "demo"
TOWN_DISPATCHER = "demo-town"
SCREEN = "hall"
RESPONDER = "demo-unit"
_PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to mistake for another when typed


class CannotListen(Exception):
    """The demo's address is taken (another server on the port?)."""


@dataclass(frozen=True)
class Demo:
    url: str
    password: str
    unit: Responder | None
    """The grid worker whose tablet a human holds (no virtual tablet for it)."""
    town: Jurisdiction | None
    credentials: access.Credentials
    database_url: str


def pick_demo_unit(config: Config) -> Responder | None:
    """A grid worker alone in its street, so the street's tasks are the human's: preferably a
    street a configured camera watches (its sightings bring tasks too), then an urban one."""
    crews: dict[str, list[Responder]] = {}
    for unit in config.responders:
        crews.setdefault(unit.jurisdiction, []).append(unit)
    watched = _watched_streets(config)
    best: tuple[int, Responder] | None = None
    for node in config.jurisdictions:
        crew = crews.get(node.id, [])
        if node.tier != Tier.STREET or len(crew) != 1:
            continue
        score = 2 * (node.id in watched) + is_urban(config, node)
        if best is None or score > best[0]:
            best = (score, crew[0])
    return best[1] if best else None


def _watched_streets(config: Config) -> set[str]:
    watched: set[str] = set()
    for camera in config.frigate.cameras.values():
        for place in (camera, *camera.zones.values()):
            if place.jurisdiction is not None:
                watched.add(place.jurisdiction)
            if place.location is not None:
                spot = ShapelyPoint(place.location.lon, place.location.lat)
                watched.update(
                    node.id
                    for node in config.jurisdictions
                    if node.tier == Tier.STREET and node.polygon.geometry.contains(spot)
                )
    return watched


def new_password() -> str:
    return "-".join("".join(secrets.choice(_PASSWORD_LETTERS) for _ in range(4)) for _ in range(3))


def prepare(config: Config, database_url: str, password: str) -> tuple[Responder | None, access.Credentials]:
    """The demo's accounts and the simulator's tokens, in a fresh database."""
    engine = database.create_engine(database_url)
    now = time.time()
    unit = pick_demo_unit(config)
    try:
        database.create_schema(engine)
        add_user(
            engine,
            config,
            name=CITY_DISPATCHER,
            role="dispatcher",
            password=password,
            jurisdiction=config.root.id,
            now=now,
        )
        if unit is not None:
            town = config.ancestor_at(unit.jurisdiction, Tier.TOWN)
            add_user(
                engine,
                config,
                name=TOWN_DISPATCHER,
                role="dispatcher",
                password=password,
                jurisdiction=town.id,
                now=now,
            )
            add_user(
                engine,
                config,
                name=RESPONDER,
                role="responder",
                password=password,
                responder=unit.id,
                now=now,
            )
        add_user(engine, config, name=SCREEN, role="screen", password=password, now=now)
    finally:
        engine.dispose()
    exclude = frozenset({unit.id} if unit is not None else ())
    units = access.tablet_units(config, None, exclude=exclude)
    return unit, access.issue(config, database_url, units, desk=True)


@contextlib.asynccontextmanager
async def demo_server(config: Config, *, host: str, port: int, directory: Path) -> AsyncIterator[Demo]:
    """The server listening, with the demo's accounts; stopped (sockets closed) on the way out."""
    database_url = f"sqlite:///{directory / 'demo.db'}"
    password = new_password()
    unit, credentials = await asyncio.to_thread(prepare, config, database_url, password)
    # A throwaway log needs no key that outlives it.
    audit_key = AuditKey(secrets.token_hex(32).encode(), "the demo (kept in memory)")
    runner = web.AppRunner(
        create_app(config, database_url=database_url, audit_key=audit_key), access_log=None
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as err:
            raise CannotListen(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        town = config.ancestor_at(unit.jurisdiction, Tier.TOWN) if unit is not None else None
        yield Demo(f"http://{shown}:{bound}", password, unit, town, credentials, database_url)
    finally:
        await runner.cleanup()


def banner(config: Config, demo: Demo) -> str:
    url = demo.url
    lines = [
        f"dispatch 演示 demo · {config.root.name} 汛期一日 a flood day · 临时数据库 throwaway database "
        "(Ctrl-C 停止并删除 stops and deletes it)",
        "",
        f"  登录 Log in       {url}/",
        f"  调度台 Console     {url}/console/",
        f"  平板 Tablet        {url}/tablet/",
        f"  大屏 Big screen    {url}/screen/",
        "",
        f"  账号 Logins, 密码 password for all: {demo.password}",
        f"    {CITY_DISPATCHER:<10} 市级调度员 city dispatcher, {config.root.name}",
    ]
    if demo.unit is not None and demo.town is not None:
        street = config.jurisdiction_by_id[demo.unit.jurisdiction]
        lines += [
            f"    {TOWN_DISPATCHER:<10} 镇/街道调度员 town dispatcher, {demo.town.name}",
            f"    {RESPONDER:<10} {demo.unit.name}，{street.name}网格员 grid worker: "
            "这个网格的任务由你在平板上接收，无人接单则逐级上报",
            f"    {'':<10} {street.name}'s tasks come to your tablet; no virtual tablet answers for "
            "this unit, so an unaccepted task escalates to the town",
        ]
    lines += [
        f"    {SCREEN:<10} 指挥大厅大屏 command-hall big screen",
        "  第二个账号请用隐私窗口 Use a private window for a second login (one session per browser).",
        "",
    ]
    return "\n".join(lines) + "\n"


async def play(
    config: Config,
    *,
    host: str,
    port: int,
    out: TextIO,
    seed: int | None = None,
    duration: float | None = None,
    clock: SimulationClock | None = None,
) -> None:
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="dispatch-demo-") as directory:
        async with demo_server(config, host=host, port=port, directory=Path(directory)) as demo:
            out.write(banner(config, demo))
            out.flush()
            settings = Settings(
                url=demo.url,
                seed=secrets.randbelow(1_000_000) if seed is None else seed,
                duration=duration,
                focus=demo.unit.jurisdiction if demo.unit is not None else None,
            )
            simulator = Simulator(config, settings, demo.credentials, clock=clock, out=out, intro=False)
            await simulator.run()


def run_demo(config: Config, *, host: str, port: int) -> int:
    try:
        asyncio.run(play(config, host=host, port=port, out=sys.stdout))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("dispatch: demo stopped, its database deleted", flush=True)
    except CannotListen as err:
        print(f"dispatch serve --demo: {err} (give another --port)", file=sys.stderr)
        return 2
    return 0
