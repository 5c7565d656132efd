"""The outbox: messages for other servers, queued in the transaction of the change that caused them.

A row is written with the change (so a rolled-back change sends nothing, and a committed one is
never forgotten, whatever happens to the process), then sent by the process that owns the
writer, one destination at a time, strictly in id order (gateways/outbox_sender.py). The
receiver deduplicates by (sender, identifier): a message sent again after a crash changes
nothing there, so each one takes effect exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from dispatch.config.link import UPSTREAM, Endpoint, county_destination, department_destination
from dispatch.config.model import Config
from dispatch.events.outbound import OutboundDelivered, OutboundQueued, OutboundRefused
from dispatch.storage.tables import outbound_table
from dispatch.storage.transaction import Command, Tx

__all__ = [
    "UPSTREAM",
    "Destination",
    "Message",
    "MessageState",
    "county_destination",
    "department_destination",
    "destinations",
    "enqueue",
    "mark_delivered",
    "mark_refused",
    "mark_retry",
    "new_message_id",
    "next_queued",
]

SYSTEM = "system"


class MessageState(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    REFUSED = "refused"


@dataclass(frozen=True)
class Destination:
    """A destination config.yaml names: its outbox key, display name and endpoint."""

    destination: str
    name: str
    endpoint: Endpoint


def destinations(config: Config) -> list[Destination]:
    """Every destination of this server's outbox, in config order: upstream, counties, departments."""
    found: list[Destination] = []
    if config.upstream is not None and config.prefecture is not None:
        found.append(Destination(UPSTREAM, config.prefecture.name, config.upstream))
    for county in config.downstream:
        name = config.jurisdiction_by_id[county.county].name
        found.append(Destination(county_destination(county.county), name, county))
    for department in config.departments:
        if department.webhook is not None:
            found.append(
                Destination(department_destination(department.id), department.name, department.webhook)
            )
    return found


def new_message_id(tx: Tx) -> int:
    """The id the next message will have, for identifiers that name it; pass it to `enqueue`."""
    return tx.ids.next("outbound")


def enqueue(
    tx: Tx,
    *,
    destination: str,
    kind: str,
    identifier: str,
    path: str,
    content_type: str,
    body: str,
    incident_id: int | None,
    summary: str,
    message_id: int | None = None,
) -> int:
    """Queue a message in the caller's transaction and say so on the incident's timeline."""
    if message_id is None:
        message_id = new_message_id(tx)
    tx.connection.execute(
        outbound_table.insert().values(
            id=message_id,
            destination=destination,
            incident_id=incident_id,
            kind=kind,
            identifier=identifier,
            path=path,
            content_type=content_type,
            body=body,
            state=MessageState.QUEUED.value,
            attempts=0,
            next_try_at=None,
            last_error=None,
            created_at=tx.now,
            delivered_at=None,
            receipt=None,
            summary=summary,
        )
    )
    tx.record(
        OutboundQueued(
            occurred_at=tx.now,
            actor=SYSTEM,
            incident_id=incident_id,
            message_id=message_id,
            destination=destination,
            kind=kind,
            identifier=identifier,
            summary=summary,
        )
    )
    return message_id


@dataclass(frozen=True)
class Message:
    """A queued message as the sender reads it."""

    id: int
    destination: str
    incident_id: int | None
    kind: str
    identifier: str
    path: str
    content_type: str
    body: str
    attempts: int
    next_try_at: float | None
    summary: str


def next_queued(destination: str) -> Callable[[sa.Connection], Message | None]:
    """A read: the oldest message still queued for `destination`, or None."""

    def read(connection: sa.Connection) -> Message | None:
        c = outbound_table.c
        row = (
            connection.execute(
                sa.select(
                    c.id,
                    c.destination,
                    c.incident_id,
                    c.kind,
                    c.identifier,
                    c.path,
                    c.content_type,
                    c.body,
                    c.attempts,
                    c.next_try_at,
                    c.summary,
                )
                .where(c.destination == destination, c.state == MessageState.QUEUED.value)
                .order_by(c.id)
                .limit(1)
            )
            .mappings()
            .first()
        )
        return Message(**row) if row is not None else None

    return read


def _queued_row(tx: Tx, message_id: int) -> Any:
    c = outbound_table.c
    return (
        tx.connection.execute(
            sa.select(c.incident_id, c.destination, c.identifier, c.attempts, c.state, c.summary).where(
                c.id == message_id
            )
        )
        .mappings()
        .first()
    )


def _finish(
    tx: Tx,
    message_id: int,
    event: type[OutboundDelivered | OutboundRefused],
    columns: dict[str, Any],
    fields: dict[str, Any],
) -> bool:
    """A queued message's last attempt: `columns` stored (its end state among them), `event` with
    `fields` on the incident's timeline. False if it was no longer queued."""
    row = _queued_row(tx, message_id)
    if row is None or row["state"] != MessageState.QUEUED.value:
        return False
    attempts = row["attempts"] + 1
    tx.connection.execute(
        outbound_table.update()
        .where(outbound_table.c.id == message_id)
        .values(attempts=attempts, next_try_at=None, **columns)
    )
    tx.record(
        event(
            occurred_at=tx.now,
            actor=SYSTEM,
            incident_id=row["incident_id"],
            message_id=message_id,
            destination=row["destination"],
            identifier=row["identifier"],
            attempts=attempts,
            summary=row["summary"],
            **fields,
        )
    )
    return True


def mark_delivered(message_id: int, receipt: dict[str, Any] | None) -> Command[bool]:
    """The destination took it: delivered, with what it answered. False if it was no longer queued."""

    def command(tx: Tx) -> bool:
        columns = {"state": MessageState.DELIVERED.value, "delivered_at": tx.now, "receipt": receipt}
        return _finish(tx, message_id, OutboundDelivered, columns, {"receipt": receipt})

    return command


def mark_refused(message_id: int, error: str) -> Command[bool]:
    """The destination refused it for good: refused, on the timeline; the next one may go."""

    def command(tx: Tx) -> bool:
        columns = {"state": MessageState.REFUSED.value, "last_error": error}
        return _finish(tx, message_id, OutboundRefused, columns, {"error": error})

    return command


def mark_retry(message_id: int, error: str, next_try_at: float) -> Command[int]:
    """It did not get through: count the attempt and when to try again (no event: the link
    status shows it). Returns the attempts so far."""

    def command(tx: Tx) -> int:
        c = outbound_table.c
        tx.connection.execute(
            outbound_table.update()
            .where(c.id == message_id, c.state == MessageState.QUEUED.value)
            .values(attempts=c.attempts + 1, last_error=error[:500], next_try_at=next_try_at)
        )
        attempts = tx.connection.execute(sa.select(c.attempts).where(c.id == message_id)).scalar()
        return int(attempts or 0)

    return command
