"""The event log: append-only, hash-chained rows written in the state's own transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.events import DomainEvent
from dispatch.tables import chain_head_table, event_table

GENESIS = "0" * 64


def canonical_payload(event: DomainEvent) -> str:
    return orjson.dumps(event.payload(), option=orjson.OPT_SORT_KEYS).decode()


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of one row: every column that tells what happened, and the hash before it."""
    material = orjson.dumps(
        [
            prev_hash,
            row["seq"],
            repr(float(row["occurred_at"])),
            row["actor"],
            row["causation_id"],
            row["incident_id"],
            row["task_id"],
            row["type"],
            row["payload"],
        ]
    )
    return hashlib.sha256(material).hexdigest()


@dataclass
class Head:
    seq: int
    hash: str


class Ledger:
    """Assigns sequence numbers and hashes; only the writer thread touches it."""

    def __init__(self) -> None:
        self.head = Head(0, GENESIS)

    def load(self, connection: sa.Connection) -> None:
        row = connection.execute(sa.select(chain_head_table.c.seq, chain_head_table.c.hash)).first()
        self.head = Head(row.seq, row.hash) if row else Head(0, GENESIS)

    def seal(self, event: DomainEvent) -> tuple[DomainEvent, dict[str, Any]]:
        """Give `event` its place in the chain; returns it with its seq and the row to insert."""
        seq = self.head.seq + 1
        row: dict[str, Any] = {
            "seq": seq,
            "occurred_at": event.occurred_at,
            "actor": event.actor,
            "causation_id": event.causation_id,
            "incident_id": event.incident_id,
            "task_id": event.task_id,
            "type": event.type,
            "payload": canonical_payload(event),
            "prev_hash": self.head.hash,
        }
        row["hash"] = chain_hash(self.head.hash, row)
        self.head = Head(seq, row["hash"])
        # The event is not yet shared with anyone: numbering it in place is cheaper than a copy.
        object.__setattr__(event, "seq", seq)
        return event, row

    def write(self, connection: sa.Connection, rows: list[dict[str, Any]], first_seq: int) -> None:
        if not rows:
            return
        connection.execute(sa.insert(event_table), rows)
        values = {"seq": self.head.seq, "hash": self.head.hash}
        if first_seq == 1:
            connection.execute(sa.insert(chain_head_table).values(id=1, **values))
        else:
            connection.execute(sa.update(chain_head_table).where(chain_head_table.c.id == 1).values(**values))


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str


def verify(connection: sa.Connection, batch: int = 5000) -> Iterator[Problem]:
    """Walk the whole log; yield the first row that was edited, inserted or deleted out of band."""
    prev = GENESIS
    expected_seq = 1
    after = 0
    while True:
        rows = (
            connection.execute(
                sa.select(event_table)
                .where(event_table.c.seq > after)
                .order_by(event_table.c.seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            if row["seq"] != expected_seq:
                yield Problem(expected_seq, f"row {expected_seq} is missing (next is {row['seq']})")
                return
            if row["prev_hash"] != prev:
                yield Problem(row["seq"], f"row {row['seq']} does not follow row {row['seq'] - 1}")
                return
            if chain_hash(prev, dict(row)) != row["hash"]:
                yield Problem(row["seq"], f"row {row['seq']} was changed after it was written")
                return
            prev = row["hash"]
            expected_seq += 1
            after = row["seq"]
    head = connection.execute(sa.select(chain_head_table.c.seq, chain_head_table.c.hash)).first()
    last = expected_seq - 1
    if head is None and last > 0:
        yield Problem(1, "the chain head record is missing")
    elif head is not None and (head.seq != last or head.hash != prev):
        yield Problem(last + 1, f"rows after {last} were removed (the head says {head.seq})")
