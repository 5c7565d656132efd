"""The event log: append-only rows, chained by HMAC-SHA256 under a key kept outside the database.

Each row's hash is the HMAC, under the audit key (dispatch/storage/audit_key.py), of the row's columns
and the previous row's hash; `chain_head` holds the newest (seq, hash) so that rows cut off the
end are missed too. Without the key nobody can write a row that verifies; cutting the tail and
`chain_head` together is caught only by a head exported earlier (dispatch/storage/audit_head.py).
Logs written before the key existed were chained with plain SHA-256: `rekey` checks that
chain and signs it once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.events.catalog import DomainEvent
from dispatch.storage.tables import chain_head_table, event_table

GENESIS = "0" * 64
_CLAIM_RETRIES = 10


def canonical_payload(event: DomainEvent) -> str:
    return orjson.dumps(event.payload(), option=orjson.OPT_SORT_KEYS).decode()


def _material(prev_hash: str, row: dict[str, Any]) -> bytes:
    """Every column that tells what happened, and the hash before it."""
    return orjson.dumps(
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


def chain_hash(key: bytes, prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of one row: HMAC-SHA256 under the audit key."""
    return hmac.new(key, _material(prev_hash, row), hashlib.sha256).hexdigest()


def unkeyed_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """How rows were hashed before the log was keyed: plain SHA-256, which anyone can recompute."""
    return hashlib.sha256(_material(prev_hash, row)).hexdigest()


@dataclass
class Head:
    seq: int
    hash: str


def read_head(connection: sa.Connection) -> Head:
    row = connection.execute(sa.select(chain_head_table.c.seq, chain_head_table.c.hash)).first()
    return Head(row.seq, row.hash) if row else Head(0, GENESIS)


class Ledger:
    """Assigns sequence numbers and hashes; in the server, only the writer thread touches it."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.head = Head(0, GENESIS)
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        """The key's HMAC state, copied per row: cheaper than keying a new HMAC each time."""

    def _hash(self, prev_hash: str, row: dict[str, Any]) -> str:
        """`chain_hash` under this ledger's key."""
        mac = self._mac.copy()
        mac.update(_material(prev_hash, row))
        return mac.hexdigest()

    def load(self, connection: sa.Connection) -> None:
        self.head = read_head(connection)

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
        row["hash"] = self._hash(self.head.hash, row)
        self.head = Head(seq, row["hash"])
        # The event is not yet shared with anyone: numbering it in place is cheaper than a copy.
        object.__setattr__(event, "seq", seq)
        return event, row

    def write(
        self,
        connection: sa.Connection,
        rows: list[dict[str, Any]],
        events: Sequence[DomainEvent],
        head_before: Head,
    ) -> None:
        """Insert the sealed rows, moving `chain_head` from `head_before` to this ledger's head.

        Another process may have moved the head meanwhile (`dispatch audit rekey` while the
        server runs): then the rows, and their events, are re-chained after it.
        """
        if not rows:
            return
        for _ in range(_CLAIM_RETRIES):
            if self._claim(connection, head_before):
                connection.execute(sa.insert(event_table), rows)
                return
            head_before = read_head(connection)
            self._reseal(rows, events, head_before)
        raise RuntimeError("the event log's head kept moving under the writer")

    def _claim(self, connection: sa.Connection, head_before: Head) -> bool:
        """Move `chain_head` to our head if it is still `head_before` (it locks the row)."""
        values = {"seq": self.head.seq, "hash": self.head.hash}
        if head_before.seq == 0:
            if connection.execute(sa.select(chain_head_table.c.id)).first() is not None:
                return False
            connection.execute(sa.insert(chain_head_table).values(id=1, **values))
            return True
        moved = connection.execute(
            sa.update(chain_head_table)
            .where(
                chain_head_table.c.id == 1,
                chain_head_table.c.seq == head_before.seq,
                chain_head_table.c.hash == head_before.hash,
            )
            .values(**values)
        )
        return moved.rowcount == 1

    def _reseal(self, rows: list[dict[str, Any]], events: Sequence[DomainEvent], after: Head) -> None:
        head = after
        for row, event in zip(rows, events, strict=True):
            row.update(seq=head.seq + 1, prev_hash=head.hash)
            row["hash"] = chain_hash(self.key, head.hash, row)
            head = Head(row["seq"], row["hash"])
            object.__setattr__(event, "seq", head.seq)
        self.head = head


def begins_unkeyed(connection: sa.Connection) -> bool:
    """Whether the log's first row was hashed without a key (a log from before the audit key),
    told without the key: an HMAC never equals the plain SHA-256 of the same material."""
    first = connection.execute(sa.select(event_table).where(event_table.c.seq == 1)).mappings().first()
    return first is not None and unkeyed_hash(GENESIS, dict(first)) == first["hash"]


@dataclass(frozen=True)
class Problem:
    seq: int | None
    """The first row at fault; None when the fault is not a row's (a head that is not ours)."""
    message: str


def _rows(connection: sa.Connection, batch: int) -> Iterator[dict[str, Any]]:
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
            return
        for row in rows:
            yield dict(row)
        after = rows[-1]["seq"]


def _signed_by(key: bytes, row: dict[str, Any]) -> bool:
    return hmac.compare_digest(chain_hash(key, row["prev_hash"], row), row["hash"])


def verify(connection: sa.Connection, key: bytes, batch: int = 5000) -> Iterator[Problem]:
    """Walk the whole log; yield the first row that was edited, inserted, deleted or re-chained
    out of band (without the key), or a key that signed none of it."""
    prev = GENESIS
    expected_seq = 1
    for row in _rows(connection, batch):
        if row["seq"] != expected_seq:
            yield Problem(expected_seq, f"row {expected_seq} is missing (next is {row['seq']})")
            return
        if row["prev_hash"] != prev:
            yield Problem(row["seq"], f"row {row['seq']} does not follow row {row['seq'] - 1}")
            return
        if not hmac.compare_digest(chain_hash(key, prev, row), row["hash"]):
            yield _fault(connection, key, prev, row)
            return
        prev = row["hash"]
        expected_seq += 1
    head = connection.execute(sa.select(chain_head_table.c.seq, chain_head_table.c.hash)).first()
    last = expected_seq - 1
    if head is None and last > 0:
        yield Problem(1, "the chain head record is missing")
    elif head is not None and (head.seq != last or head.hash != prev):
        yield Problem(last + 1, f"rows after {last} were removed (the head says {head.seq})")


def _fault(connection: sa.Connection, key: bytes, prev: str, row: dict[str, Any]) -> Problem:
    seq = row["seq"]
    if unkeyed_hash(prev, row) == row["hash"]:
        if seq == 1:
            return Problem(
                seq,
                "row 1 onwards were chained without the audit key (written before it was introduced): "
                "`dispatch audit rekey` checks that chain and signs it",
            )
        return Problem(
            seq, f"row {seq} was re-chained without the audit key (rewritten after it was written)"
        )
    if seq == 1:
        last = (
            connection.execute(sa.select(event_table).order_by(event_table.c.seq.desc()).limit(1))
            .mappings()
            .one()
        )
        if not _signed_by(key, dict(last)):
            return Problem(
                None,
                "no row of the log is signed with this audit key: the key is not the one the log was "
                "written with (or every row was rewritten)",
            )
    return Problem(seq, f"row {seq} was changed after it was written")


def rekey(connection: sa.Connection, key: bytes, batch: int = 5000) -> tuple[int, list[Problem]]:
    """Sign a log chained without the key (or partly): (rows re-signed, problems).

    Only a chain that checks out is re-signed: every row unkeyed and intact from row 1, up to
    where rows signed with this key begin. Anything else is a problem and nothing changes.
    """
    connection.execute(
        sa.update(chain_head_table).where(chain_head_table.c.id == 1).values(seq=chain_head_table.c.seq)
    )
    prev = GENESIS
    keyed = False
    count = 0
    for row in _rows(connection, batch):
        if row["seq"] != count + 1:
            return 0, [Problem(count + 1, f"row {count + 1} is missing (next is {row['seq']})")]
        if row["prev_hash"] != prev:
            return 0, [Problem(row["seq"], f"row {row['seq']} does not follow row {row['seq'] - 1}")]
        if chain_hash(key, prev, row) == row["hash"]:
            keyed = True
        elif keyed or unkeyed_hash(prev, row) != row["hash"]:
            return 0, [Problem(row["seq"], f"row {row['seq']} was changed after it was written")]
        prev = row["hash"]
        count += 1
    head = read_head(connection)
    if count and (head.seq != count or head.hash != prev):
        return 0, [Problem(count + 1, f"rows after {count} were removed (the head says {head.seq})")]
    signed = Head(0, GENESIS)
    changed = 0
    for row in _rows(connection, batch):
        old = row["hash"]
        row["prev_hash"] = signed.hash
        row["hash"] = chain_hash(key, signed.hash, row)
        signed = Head(row["seq"], row["hash"])
        if row["hash"] != old:
            changed += 1
            connection.execute(
                sa.update(event_table)
                .where(event_table.c.seq == row["seq"])
                .values(prev_hash=row["prev_hash"], hash=row["hash"])
            )
    if count:
        connection.execute(
            sa.update(chain_head_table)
            .where(chain_head_table.c.id == 1)
            .values(seq=signed.seq, hash=signed.hash)
        )
    return changed, []
