"""A writer transaction as a command sees it: the connection, the time, new ids, the events it records."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from dispatch.events.catalog import DomainEvent
from dispatch.storage.health import is_unreachable
from dispatch.storage.ledger import Head, Ledger
from dispatch.storage.records import Responder
from dispatch.storage.tables import (
    alert_table,
    department_task_table,
    incident_table,
    outbound_table,
    task_table,
)

logger = logging.getLogger(__name__)

R = TypeVar("R")


class Ids:
    """Integer ids for new rows; the single writer is their only author."""

    def __init__(self, connection: sa.Connection) -> None:
        self._next = {
            name: (connection.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
            for name, table in (
                ("alert", alert_table),
                ("incident", incident_table),
                ("task", task_table),
                ("department_task", department_task_table),
                ("outbound", outbound_table),
            )
        }

    def next(self, name: str) -> int:
        self._next[name] += 1
        return self._next[name]

    def snapshot(self) -> dict[str, int]:
        return dict(self._next)

    def restore(self, snapshot: dict[str, int]) -> None:
        self._next = snapshot


@dataclass
class Tx:
    """What a command sees: the open transaction, the time, and where its events go."""

    connection: sa.Connection
    now: float
    ids: Ids
    ledger: Ledger
    events: list[DomainEvent] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)
    deadlines: list[float] = field(default_factory=list)
    """Step deadlines stored by this transaction: the scheduler hears of them after it commits."""
    roster: dict[str, list[Responder]] | None = None
    """Free units by jurisdiction as read in this pass (`keeping_roster`); None: read every time."""
    roster_home: dict[str, str] = field(default_factory=dict)
    """Unit id → the jurisdiction whose roster list holds it (a unit is in its own one only)."""

    def record(self, event: DomainEvent) -> DomainEvent:
        sealed, row = self.ledger.seal(event)
        self.events.append(sealed)
        self.rows.append(row)
        return sealed

    @contextmanager
    def keeping_roster(self) -> Iterator[None]:
        """Within the block, each jurisdiction's free units are read once: a pass opening many
        incidents asks for them again and again, and only `roster_changed` can change them."""
        self.roster = {}
        try:
            yield
        finally:
            self.roster = None
            self.roster_home = {}

    def keep_roster(self, jurisdiction_id: str, units: list[Responder]) -> None:
        """The free units of a jurisdiction as just read, kept for the rest of the pass."""
        if self.roster is None:
            return
        self.roster[jurisdiction_id] = units
        for unit in units:
            self.roster_home[unit.id] = jurisdiction_id

    def roster_changed(self, responder_id: str, available: bool) -> None:
        """A unit's status was written: drop it from the roster, or read afresh when one is free."""
        if self.roster is None:
            return
        if available:
            self.roster = {}
            return
        # Only the unit's own jurisdiction's list can hold it: filtering every list read in the
        # pass cost 18 % of the writer at 1,000 new incidents/s with 6,000 units (bench sustained).
        home = self.roster_home.get(responder_id)
        if home is not None and home in self.roster:
            self.roster[home] = [unit for unit in self.roster[home] if unit.id != responder_id]

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the writer thread once this transaction has committed (caches)."""
        self.committed.append(callback)

    def isolated(self, command: Callable[[Tx], Any]) -> tuple[bool, Any]:
        """Run `command` in a SAVEPOINT; on failure undo its rows, events and ids alone."""
        marks = (
            len(self.events),
            len(self.rows),
            len(self.committed),
            len(self.deadlines),
            Head(self.ledger.head.seq, self.ledger.head.hash),
        )
        ids = self.ids.snapshot()
        savepoint = self.connection.begin_nested()
        try:
            result = command(self)
        except Exception as err:
            savepoint.rollback()
            del self.events[marks[0] :]
            del self.rows[marks[1] :]
            del self.committed[marks[2] :]
            del self.deadlines[marks[3] :]
            self.ledger.head = marks[4]
            self.ids.restore(ids)
            if self.roster is not None:  # a status it changed is back as it was
                self.roster = {}
            if not getattr(err, "expected", False) and not is_unreachable(err):
                logger.exception("command failed")
            return False, err
        savepoint.commit()
        return True, result


Command = Callable[[Tx], R]
