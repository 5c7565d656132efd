"""A `dispatch serve --mqtt` child for the MQTT benchmark: its own config, topic prefix and session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.harness.http import mqtt_stats
from bench.harness.mqtt import Broker, forget_session, read_text
from bench.harness.servers import READY_TIMEOUT_S, dispatch_serve
from bench.workloads.city import City
from gateways.mqtt_link import TABLETS_SUFFIX

UNIT_SKILLS = ("patrol", "first_aid", "flood_watch", "fire_initial", "water_rescue")
PENDING_PUBLISH_WARNING = "pending publish calls"


@dataclass(frozen=True)
class Session:
    prefix: str
    client_id: str


def new_session(kind: str) -> Session:
    tag = f"{os.getpid()}x{uuid.uuid4().hex[:8]}"
    return Session(prefix=f"bench-{kind}-{tag}", client_id=f"bench-{kind}-{tag}-server")


def write_config(base: Path, target: Path, session: Session, units_per_street: int, seed: int) -> int:
    """The base config with our MQTT prefix and client id, and extra street units if asked; its unit count."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["mqtt"] = {"client_id": session.client_id, "prefix": session.prefix, "frigate_prefix": None}
    data["responders"] += street_units(base, units_per_street, seed)
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return len(data["responders"])


def street_units(base: Path, units_per_street: int, seed: int) -> list[dict[str, Any]]:
    """`units_per_street` extra units in every street, each with every skill, homes at random points."""
    if not units_per_street:
        return []
    rng = random.Random(seed)
    city = City(base, rng)
    units: list[dict[str, Any]] = []
    for node in city.streets:
        for number in range(units_per_street):
            lat, lon = city.point_in(node, rng)
            units.append(
                {
                    "id": f"bench-{node.id}-{number}",
                    "name": f"bench {node.id} {number}",
                    "jurisdiction": node.id,
                    "department": None,
                    "skills": list(UNIT_SKILLS),
                    "home": {"lat": round(lat, 6), "lon": round(lon, 6)},
                }
            )
    return units


@dataclass
class Server:
    url: str
    database: Path
    log: Path


@contextlib.asynccontextmanager
async def dispatch_server(
    broker: Broker, session: Session, config: Path, directory: Path
) -> AsyncIterator[Server]:
    """A server child whose MQTT link is subscribed; its broker session is dropped afterwards."""
    database = directory / "bench.db"
    try:
        async with dispatch_serve(
            config, f"sqlite:///{database}", directory, "--mqtt", broker.url
        ) as running:
            server = Server(running.url, database, running.log)
            await mqtt_connected(server)
            yield server
    finally:
        await forget_session(broker, session.client_id)
        await forget_session(broker, f"{session.client_id}{TABLETS_SUFFIX}")


async def mqtt_connected(server: Server) -> None:
    """Subscribed: from here on the broker keeps for the session what the server has not taken."""
    give_up = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < give_up:
        if (await mqtt_stats(server.url)).get("connected"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"MQTT link not connected in {READY_TIMEOUT_S}s:\n{read_text(server.log)[-3000:]}")


def server_troubles(log: Path) -> dict[str, Any]:
    """What the server logged: lines in all, warnings and errors, and aiomqtt's publish warnings."""
    lines = read_text(log).splitlines()
    bad = [line for line in lines if " ERROR " in line or " WARNING " in line or "Traceback" in line]
    pending = [line for line in bad if PENDING_PUBLISH_WARNING in line]
    others = [line for line in bad if PENDING_PUBLISH_WARNING not in line]
    return {
        "log_lines": len(lines),
        "warnings_and_errors": len(bad),
        "aiomqtt_pending_publish_warnings": len(pending),
        "samples": others[:5] + pending[:1],
    }
