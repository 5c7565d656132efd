"""A database already holding N open incidents, as intake would have written them, for bench.open_incidents.

The rows are written straight into a schema migrated by `dispatch db upgrade` (the server
would take hours to open 100,000 incidents at the rates measured here): one incident and the
alert that opened it per random street point, categories of CityMix, severity IV, last alert
within the last `spread_s` seconds so that all of them stay inside correlation.window for
the whole benchmark. No events, tasks or step deadlines are written: correlation reads only
the incident and alert tables.
"""

from __future__ import annotations

import contextlib
import io
import random
import time
from pathlib import Path
from typing import Any

import orjson

from bench.harness.tokens import issue
from bench.workloads.alerts import CityMix, SpreadMix

CHUNK = 5_000
GRID_SEED = 11


def _dispatch(*args: str) -> None:
    from dispatch.cli.main import main as dispatch_main

    with contextlib.redirect_stdout(io.StringIO()):
        code = dispatch_main(list(args))
    if code != 0:
        raise RuntimeError(f"dispatch {' '.join(args[:2])} failed ({code})")


def prepare(path: Path, config_path: Path, count: int, seed: int, spread_s: float, grid: bool = False) -> str:
    """`path` migrated, with a gateway token (returned) and `count` open incidents.

    With `grid`, incident n lies on SpreadMix(GRID_SEED)'s point and category n, so that alerts
    of the grid's later numbers never join one (bench.open_incidents --layout grid).
    """
    url = f"sqlite:///{path}"
    _dispatch("db", "upgrade", "--config", str(config_path), "--database", url)
    token = issue(url, config_path, "--role", "gateway", "--name", "bench-open-incidents")
    if count:
        _write(url, config_path, count, seed, spread_s, grid)
    return token


def _write(url: str, config_path: Path, count: int, seed: int, spread_s: float, grid: bool) -> None:
    import sqlalchemy as sa

    from dispatch.storage import database
    from dispatch.storage.tables import alert_table, incident_table

    mix = CityMix(config_path, seed)
    spread = SpreadMix(config_path, GRID_SEED) if grid else None
    if spread is not None and spread.capacity < count:
        raise SystemExit(f"the grid holds {spread.capacity} incidents, not {count}")
    rng = random.Random(seed)
    now = time.time()
    engine = database.create_engine(url)
    try:
        with engine.begin() as connection:
            start = int(connection.execute(sa.select(sa.func.max(incident_table.c.id))).scalar() or 0)
            for first in range(0, count, CHUNK):
                incidents: list[dict[str, Any]] = []
                alerts: list[dict[str, Any]] = []
                for number in range(first, min(count, first + CHUNK)):
                    at = now - rng.uniform(0, spread_s)
                    incident, alert = _rows(mix, start + number + 1, at, _where(mix, spread, number))
                    incidents.append(incident)
                    alerts.append(alert)
                connection.execute(incident_table.insert(), incidents)
                connection.execute(alert_table.insert(), alerts)
    finally:
        engine.dispose()


def _where(mix: CityMix, spread: SpreadMix | None, number: int) -> tuple[float, float, str]:
    """A random street point and CityMix category, or the grid's point and category `number`."""
    if spread is None:
        lat, lon = mix.city.street_point()
        return lat, lon, mix.rng.choice(mix.categories)
    body = orjson.loads(spread.alert(number))
    return body["location"]["lat"], body["location"]["lon"], body["category"]


def _rows(
    mix: CityMix, number: int, at: float, where: tuple[float, float, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One incident as Intake._open writes it, and the alert that opened it."""
    from dispatch.config.model import Severity
    from dispatch.intake.correlation import place_key
    from dispatch.storage.records import Incident, PolicySnapshot
    from state_machines import IncidentState

    config = mix.config
    lat, lon, category_id = where
    node = mix.city.router.locate(lat, lon)
    assert node is not None
    category = config.category_by_id[category_id]
    policy_name = category.policy_for(Severity(4))
    policy = config.policies[policy_name]
    first_tier = next((step.tier for step in policy.steps if step.tier.depth <= node.tier.depth), node.tier)
    owner = config.ancestor_at(node.id, first_tier)
    incident = Incident(
        id=number,
        category=category.id,
        severity=4,
        state=IncidentState.REPORTED.value,
        title=category.name,
        lat=lat,
        lon=lon,
        jurisdiction_id=node.id,
        place=place_key(category.id, node.id),
        outside_area=False,
        owner_jurisdiction_id=owner.id,
        owner_tier=owner.tier.value,
        departments=[category.department],
        alert_count=1,
        first_alert_at=at,
        last_alert_at=at,
        policy_name=policy_name,
        policy=PolicySnapshot.of(policy),
        step_index=0,
        step_deadline_at=None,
        forwarded=False,
        merged_into=None,
        summary=None,
        milestones={IncidentState.REPORTED.value: at},
        created_at=at,
        updated_at=at,
    )
    source, event = f"bench-open-{number}", str(number)
    body = {"source": source, "source_event_id": event, "kind": "video", "category": category.id}
    alert = {
        "id": number,
        "source": source,
        "source_event_id": event,
        "key": orjson.dumps([source, event]).decode(),
        "kind": "video",
        "category": category.id,
        "severity": 4,
        "lat": lat,
        "lon": lon,
        "jurisdiction_id": node.id,
        "observed_at": at,
        "received_at": at,
        "title": None,
        "description": None,
        "attributes": {},
        "raw": orjson.dumps(body).decode(),
        "incident_id": number,
    }
    return incident.as_row(), alert
