"""Events recorded by command-line processes, moved into the hash-chained log by the server.

The log has one author, the server's writer. A `dispatch token …` command runs in another
process, so it leaves its event here in the same transaction as its change; the server moves
every waiting event into the log in one writer transaction, oldest first.
"""

from __future__ import annotations

import getpass

import orjson
import sqlalchemy as sa

from dispatch.events.catalog import EVENT_TYPES, DomainEvent
from dispatch.storage.tables import pending_event_table
from dispatch.storage.writer import Tx


def command_line_actor() -> str:
    """Who ran the command, as the log names them: `cli:` and the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli:unknown"


def leave(connection: sa.Connection, event: DomainEvent) -> None:
    connection.execute(
        pending_event_table.insert().values(
            occurred_at=event.occurred_at,
            actor=event.actor,
            type=event.type,
            payload=orjson.dumps(event.payload()).decode(),
        )
    )


def move_into_log(tx: Tx) -> int:
    """A writer command: chain every waiting event and forget it; returns how many."""
    rows = tx.connection.execute(sa.select(pending_event_table).order_by(pending_event_table.c.id)).all()
    for row in rows:
        event_type = EVENT_TYPES[row.type]
        tx.record(event_type(occurred_at=row.occurred_at, actor=row.actor, **orjson.loads(row.payload)))
    if rows:
        tx.connection.execute(
            pending_event_table.delete().where(pending_event_table.c.id.in_([row.id for row in rows]))
        )
    return len(rows)


def waiting(connection: sa.Connection) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(pending_event_table)).scalar() or 0
