"""The simulator's tokens: issued in the server's database when it is reachable, else given by hand.

Tokens are never printed. Issued ones are named `simulator` (the gateway), `simulator:<unit>`
(each tablet) and `simulator:desk` (the duty desk), so the audit trail says who acted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import sqlalchemy as sa

from dispatch.access.auth import issue_token
from dispatch.config.model import Config, Responder
from dispatch.storage import database


class AccessError(ValueError):
    """The simulator cannot get its tokens; the message says what to give."""


@dataclass(frozen=True)
class Credentials:
    gateway: str
    responders: dict[str, str] = field(default_factory=dict)
    """Unit id → token: one virtual tablet each."""
    desk: str | None = None
    prefecture: str | Callable[[], str | None] | None = None
    """A dispatcher token of the prefecture's server, for its simulated duty desk (or where to
    read it when it comes: a demo's prefecture may start after the county)."""


def tablet_units(
    config: Config,
    count: int | None,
    *,
    exclude: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> list[Responder]:
    """The units that get a virtual tablet: all, or the first `count`, street grid workers first
    (they get the first step of most tasks), then the towns' teams, then the city's desks."""
    units = [
        unit for unit in config.responders if unit.id not in exclude and (only is None or unit.id in only)
    ]
    units.sort(key=lambda unit: -config.jurisdiction_by_id[unit.jurisdiction].tier.depth)
    return units if count is None else units[:count]


def check_database(url: str) -> None:
    """Refuse a SQLite file that is not there: creating an empty one would issue useless tokens."""
    parsed = sa.engine.make_url(database.normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database
        if not name or name == ":memory:" or not Path(name).is_file():
            raise AccessError(
                f"no database at {name or url!r} to issue the simulator's tokens in: give --database "
                "(the server's) or --gateway-token (and --responder-tokens FILE for tablets)"
            )


def issue(config: Config, database_url: str, units: list[Responder], *, desk: bool) -> Credentials:
    """New tokens in the server's database (it reads them from there on the first request)."""
    check_database(database_url)
    engine = database.create_engine(database_url)
    now = time.time()
    try:
        database.create_schema(engine)
        gateway = issue_token(engine, config, role="gateway", name="simulator", now=now)
        responders = {
            unit.id: issue_token(
                engine, config, role="responder", name=f"simulator:{unit.id}", responder=unit.id, now=now
            )
            for unit in units
        }
        desk_token = (
            issue_token(engine, config, role="dispatcher", name="simulator:desk", now=now) if desk else None
        )
    except sa.exc.SQLAlchemyError as err:
        raise AccessError(f"--database: cannot issue tokens: {err.__class__.__name__}: {err}") from err
    finally:
        engine.dispose()
    return Credentials(gateway, responders, desk_token)


def read_responder_tokens(path: str, config: Config) -> dict[str, str]:
    """A JSON file of unit id → responder token."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as err:
        raise AccessError(f"--responder-tokens: cannot read {path}: {err.strerror}") from err
    except orjson.JSONDecodeError as err:
        raise AccessError(f"--responder-tokens: {path} is not JSON: {err}") from err
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise AccessError(f'--responder-tokens: {path} must hold {{"unit id": "token", ...}}')
    unknown = sorted(set(data) - set(config.responder_by_id))
    if unknown:
        raise AccessError(f"--responder-tokens: no responder {unknown[0]!r} in the config")
    return {str(unit): token for unit, token in data.items()}
