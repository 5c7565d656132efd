"""The cheap new-incident path (held incident rows, the pass's roster) stores what the plain one did."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dispatch.events.bus import EventBus
from dispatch.service import DispatchService
from dispatch.shared.clock import ManualClock
from dispatch.storage import database, repository
from dispatch.storage.tables import alert_table, event_table, incident_table, responder_table, task_table
from dispatch.storage.transaction import Tx
from dispatch.storage.writer import Writer
from tests.conftest import AUDIT_KEY
from tests.dispatch.core.harness import Desk
from tests.factories import EAST_N, WEST_N, WEST_S, alert, make_config

NEARBY_WEST_N = {"lat": 28.1505, "lon": 112.1005}

TABLES = (incident_table, task_table, alert_table, responder_table, event_table)


@contextlib.contextmanager
def _plain(*_: object) -> Iterator[None]:
    yield


async def _stored(tmp_path: Path, name: str, passes: list[list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """Run the passes on a fresh database; every row of the tables the path writes, in id order."""
    url = f"sqlite:///{tmp_path / name}"
    engine = database.create_engine(url, writer=True)
    database.create_schema(engine)
    clock = ManualClock()
    writer = Writer(engine, EventBus(), clock, audit_key=AUDIT_KEY.secret)
    service = DispatchService(make_config(), writer)
    writer.start()
    try:
        await writer.submit(service.sync_responders)
        desk = Desk(service.config, service, writer, clock)
        for number, alerts in enumerate(passes):
            clock.advance(1.0 + number)
            await desk.receive(*alerts)
    finally:
        await writer.stop()
    with engine.connect() as connection:
        dump = {table.name: [tuple(row) for row in connection.execute(_ordered(table))] for table in TABLES}
    engine.dispose()
    return dump


def _ordered(table: sa.Table) -> sa.Select[Any]:
    return sa.select(table).order_by(*table.primary_key)


def _passes() -> list[list[dict[str, Any]]]:
    """New incidents until the units run out (so steps climb and find nobody), joins into an
    incident opened in the same pass, a repeat, and units of one jurisdiction asked twice."""
    first = [
        alert("a1", location=WEST_N),
        alert("a2", source="gauge-2", location=NEARBY_WEST_N),
        alert("a3", source="cam-1", category="vending", location=NEARBY_WEST_N),
        alert("a4", source="gauge-3", location=EAST_N),
        alert("a5", source="gauge-4", location=WEST_S),
        alert("a1", location=WEST_N),
    ]
    places = [
        {"lat": place["lat"], "lon": place["lon"] + 0.004 * i} for i in range(4) for place in (WEST_S, EAST_N)
    ]
    more = [alert(f"b{i}", source=f"gauge-b{i}", location=place) for i, place in enumerate(places)]
    return [first, more, [alert("c1", source="gauge-c", location=WEST_N, severity=1)]]


async def test_held_rows_and_roster_store_the_same_rows_events_and_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = await _stored(tmp_path, "fast.db", _passes())

    monkeypatch.setattr(repository, "holding", _plain)
    monkeypatch.setattr(Tx, "keeping_roster", _plain)
    plain = await _stored(tmp_path, "plain.db", _passes())

    assert len(fast["incident"]) >= 5 and fast["task"] and len(fast["event"]) > 20
    for table in TABLES:
        assert fast[table.name] == plain[table.name], table.name


async def test_a_held_incident_is_read_back_as_the_record_itself(desk: Desk) -> None:
    [received] = await desk.receive(alert("e1", location=WEST_N))

    def command(tx: Tx) -> bool:
        held = repository.incident(tx.connection, received.incident_id)
        held.id += 1000
        with repository.holding(tx.connection):
            repository.hold(tx.connection, held)
            return repository.incident(tx.connection, held.id) is held

    assert await desk.run(command) is True
    with pytest.raises(Exception, match="does not exist"):
        await desk.incident(received.incident_id + 1000)  # held, never written: nothing stored
