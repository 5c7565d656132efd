"""`dispatch serve --demo`: the server and the simulator in one process, on a throwaway database.

A newcomer's first command: it prints where to log in and with what, and a flood day starts
at once. One grid worker's tablet is left to the human (`demo-unit`): the tasks of its street
wait for someone to accept them on the real tablet page, or escalate when nobody does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
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
from dispatch.simulate.demo_link import Pairing
from dispatch.simulate.places import is_urban
from dispatch.simulate.runner import Settings, Simulator, stop_on_sigterm
from dispatch.storage import database
from dispatch.storage.audit_key import AuditKey
from web.app import create_app

CITY_DISPATCHER = "demo"
TOWN_DISPATCHER = "demo-town"
SCREEN = "hall"
SUB_CENTER = "demo-flood"
SUB_CENTER_DEPARTMENT = "flood_control"
"""The demo's sub-center desk: the flood-control office's dispatcher (协办 and its own incidents)."""
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
        if SUB_CENTER_DEPARTMENT in config.department_by_id:
            add_user(
                engine,
                config,
                name=SUB_CENTER,
                role="dispatcher",
                password=password,
                department=SUB_CENTER_DEPARTMENT,
                now=now,
            )
    finally:
        engine.dispose()
    exclude = frozenset({unit.id} if unit is not None else ())
    units = access.tablet_units(config, None, exclude=exclude)
    return unit, access.issue(config, database_url, units, desk=True)


@contextlib.asynccontextmanager
async def demo_server(
    config: Config, *, host: str, port: int, directory: Path, pairing: Pairing | None = None
) -> AsyncIterator[Demo]:
    """The server listening, with the demo's accounts; stopped (sockets closed) on the way out."""
    database_url = f"sqlite:///{directory / 'demo.db'}"
    password = new_password()
    unit, credentials = await asyncio.to_thread(prepare, config, database_url, password)
    if pairing is not None:
        await asyncio.to_thread(pairing.issue, database_url)
        credentials = dataclasses.replace(credentials, prefecture=pairing.desk_token)
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
    day = "上级指挥中心 the level above" if config.downstream else "汛期一日 a flood day"
    lines = [
        f"dispatch 演示 demo · {config.root.name} {day} · 临时数据库 throwaway database "
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
    flood = config.department_by_id.get(SUB_CENTER_DEPARTMENT)
    if flood is not None:
        lines += [
            f"    {SUB_CENTER:<10} 分中心调度员 sub-center dispatcher, {flood.name}: 协办任务与本部门事件 "
            "its department's incidents and co-handling tasks",
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
    upstream: str | None = None,
) -> None:
    """The demo until stopped (or `duration`); `upstream`: the prefecture demo's URL, linked up to it."""
    stop_on_sigterm()
    pairing = Pairing.of(config, upstream)
    if pairing is not None:
        config = pairing.config
    with tempfile.TemporaryDirectory(prefix="dispatch-demo-") as directory:
        async with demo_server(
            config, host=host, port=port, directory=Path(directory), pairing=pairing
        ) as demo:
            out.write(banner(config, demo) + link_banner(config, pairing, demo.url))
            out.flush()
            if pairing is not None and pairing.is_prefecture:
                # The level above has no flood day of its own: what it sees comes up from the counties.
                await asyncio.sleep(math.inf if duration is None else duration)
                return
            settings = Settings(
                url=demo.url,
                seed=secrets.randbelow(1_000_000) if seed is None else seed,
                duration=duration,
                focus=demo.unit.jurisdiction if demo.unit is not None else None,
                prefecture_url=upstream,
            )
            simulator = Simulator(config, settings, demo.credentials, clock=clock, out=out, intro=False)
            await simulator.run()


def link_banner(config: Config, pairing: Pairing | None, url: str) -> str:
    """What the two-level demo adds to the banner: which side this is and what to watch."""
    if pairing is None:
        return ""
    if pairing.is_prefecture:
        counties = "、".join(config.jurisdiction_by_id[link.county].name for link in config.downstream)
        return (
            f"  上级指挥中心 The level above: {counties} 的重大(II级)以上事件经 CAP 1.2 上报至此; "
            "在事件详情中「下达指令」 severity I/II incidents of the counties come up here as CAP 1.2; "
            "send an instruction from an incident's detail\n"
            "  县级演示请另开终端 Start a county demo in another terminal (on the port `downstream` names): "
            f"dispatch serve --demo --upstream {url}\n\n"
        )
    above = config.prefecture.name if config.prefecture is not None else "the prefecture"
    return (
        f"  上报链路 Linked up to {above} at {pairing.upstream_url}: II级以上事件（如约4分钟时的堤防管涌）"
        "上报，上级指令在调度台响铃，须「确认收到」\n"
        "  severity I/II incidents (the levee piping at about 4 min) go up; the prefecture's "
        "instruction rings on the console until acknowledged\n\n"
    )


def run_demo(config: Config, *, host: str, port: int, upstream: str | None = None) -> int:
    try:
        asyncio.run(play(config, host=host, port=port, out=sys.stdout, upstream=upstream))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("dispatch: demo stopped, its database deleted", flush=True)
    except CannotListen as err:
        print(f"dispatch serve --demo: {err} (give another --port)", file=sys.stderr)
        return 2
    return 0
