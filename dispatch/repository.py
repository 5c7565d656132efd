"""Row access used inside the writer's transaction: small, explicit Core statements."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dispatch.errors import NotFound
from dispatch.tables import alert_table, incident_table, responder_table, task_table

Row = dict[str, Any]

_select_incident = sa.select(incident_table).where(incident_table.c.id == sa.bindparam("id"))
_select_task = sa.select(task_table).where(task_table.c.id == sa.bindparam("id"))
_select_alert_key = sa.select(alert_table.c.id, alert_table.c.incident_id).where(
    alert_table.c.source == sa.bindparam("source"),
    alert_table.c.source_event_id == sa.bindparam("source_event_id"),
)


def incident(connection: sa.Connection, incident_id: int) -> Row:
    row = connection.execute(_select_incident, {"id": incident_id}).mappings().first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist", field="id")
    return dict(row)


def task(connection: sa.Connection, task_id: int) -> Row:
    row = connection.execute(_select_task, {"id": task_id}).mappings().first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist", field="id")
    return dict(row)


def alert_by_key(connection: sa.Connection, source: str, source_event_id: str) -> Row | None:
    row = connection.execute(
        _select_alert_key, {"source": source, "source_event_id": source_event_id}
    ).first()
    return {"id": row.id, "incident_id": row.incident_id} if row else None


def update(connection: sa.Connection, table: sa.Table, row: Row, **values: Any) -> None:
    """Write `values` to the row and to its in-memory copy."""
    connection.execute(sa.update(table).where(table.c.id == row["id"]).values(**values))
    row.update(values)


def tasks_of(connection: sa.Connection, incident_id: int) -> list[Row]:
    rows = connection.execute(
        sa.select(task_table).where(task_table.c.incident_id == incident_id).order_by(task_table.c.id)
    ).mappings()
    return [dict(row) for row in rows]


def responder(connection: sa.Connection, responder_id: str) -> Row | None:
    row = (
        connection.execute(sa.select(responder_table).where(responder_table.c.id == responder_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def available_responders(connection: sa.Connection, jurisdiction_id: str) -> list[Row]:
    rows = connection.execute(
        sa.select(responder_table).where(
            responder_table.c.jurisdiction_id == jurisdiction_id,
            responder_table.c.status == "available",
        )
    ).mappings()
    return [dict(row) for row in rows]


def set_responder_status(connection: sa.Connection, responder_id: str, status: str, now: float) -> None:
    connection.execute(
        sa.update(responder_table)
        .where(responder_table.c.id == responder_id)
        .values(status=status, updated_at=now)
    )
