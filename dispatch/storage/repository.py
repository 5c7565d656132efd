"""Record access used inside the writer's transaction: small, explicit Core statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from dispatch.shared.errors import NotFound
from dispatch.storage.records import Incident, Record, Responder, Task
from dispatch.storage.tables import incident_table, responder_table, task_table
from dispatch.storage.transaction import Tx
from state_machines import ResponderStatus

_select_incident = sa.select(incident_table).where(incident_table.c.id == sa.bindparam("id"))
_select_task = sa.select(task_table).where(task_table.c.id == sa.bindparam("id"))


_HELD = "dispatch.held_incidents"
"""Key in the connection's `info`: incidents opened in this pass, not yet inserted (`holding`)."""
_insert_incident = incident_table.insert()


@contextmanager
def holding(connection: sa.Connection) -> Iterator[None]:
    """Within the block, a new incident is held in memory (`hold`) and inserted once, with the
    values its first steps gave it, by `write_held`: no UPDATE per step, one INSERT per pass.
    Reads and writes through this module see the held record itself."""
    connection.info[_HELD] = {}
    try:
        yield
    finally:
        connection.info.pop(_HELD, None)


def hold(connection: sa.Connection, row: Incident) -> None:
    """Insert `row` now, or hold it until `write_held` when a `holding` block is open."""
    held: dict[int, Incident] | None = connection.info.get(_HELD)
    if held is None:
        connection.execute(_insert_incident, row.as_row())
    else:
        held[row.id] = row


def write_held(connection: sa.Connection, only: Incident | None = None) -> None:
    """Insert the held incidents (or only `only`, before a row that refers to it)."""
    held: dict[int, Incident] | None = connection.info.get(_HELD)
    if not held:
        return
    if only is not None:
        if held.get(only.id) is only:
            del held[only.id]
            connection.execute(_insert_incident, only.as_row())
        return
    connection.execute(_insert_incident, [row.as_row() for row in held.values()])
    held.clear()


def _held(connection: sa.Connection, record: Record) -> bool:
    held: dict[int, Incident] | None = connection.info.get(_HELD)
    return held is not None and isinstance(record, Incident) and held.get(record.id) is record


def incident(connection: sa.Connection, incident_id: int) -> Incident:
    held: dict[int, Incident] | None = connection.info.get(_HELD)
    if held and incident_id in held:
        return held[incident_id]
    row = connection.execute(_select_incident, {"id": incident_id}).mappings().first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist", field="id")
    return Incident.from_row(row)


def task(connection: sa.Connection, task_id: int) -> Task:
    row = connection.execute(_select_task, {"id": task_id}).mappings().first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist", field="id")
    return Task.from_row(row)


_updates: dict[tuple[str, tuple[str, ...]], sa.Update] = {}


def _update_statement(table: sa.Table, columns: tuple[str, ...]) -> sa.Update:
    """One prepared UPDATE per (table, columns): built once, then only parameters change."""
    key = (table.name, columns)
    statement = _updates.get(key)
    if statement is None:
        statement = (
            table.update()
            .where(table.c.id == sa.bindparam("_id"))
            .values({name: sa.bindparam(f"_{name}", type_=table.c[name].type) for name in columns})
        )
        _updates[key] = statement
    return statement


def update(connection: sa.Connection, table: sa.Table, record: Record, **values: Any) -> None:
    """Write `values` to the record's row and set them on the record."""
    if values.get("step_deadline_at") is not None:
        # A deadline the scheduler does not hear of would never fire.
        raise ValueError("store a step deadline with set_step_deadline, which tells the scheduler")
    if not _held(connection, record):
        statement = _update_statement(table, tuple(values))
        connection.execute(statement, {"_id": record.id, **{f"_{k}": v for k, v in values.items()}})
    for name, value in values.items():
        setattr(record, name, value)


def set_step_deadline(tx: Tx, incident: Incident, due: float | None) -> None:
    """Store (or clear) the incident's step deadline; the scheduler hears of it at commit.

    The step index goes with it: escalation moves an incident through steps in memory and
    every way out of a step search ends here, so the row is written once, not once a step.
    """
    if not _held(tx.connection, incident):
        values = {"_id": incident.id, "_step": incident.step_index, "_due": due}
        tx.connection.execute(_set_step_deadline, values)
    incident.step_deadline_at = due
    if due is not None:
        tx.deadlines.append(due)


def clear_step_deadline(connection: sa.Connection, incident_id: int) -> None:
    """Drop a deadline without reading the incident (one that failed to fire)."""
    connection.execute(_clear_step_deadline, {"_id": incident_id, "_due": None})


_clear_step_deadline = (
    incident_table.update()
    .where(incident_table.c.id == sa.bindparam("_id"))
    .values(step_deadline_at=sa.bindparam("_due", type_=incident_table.c.step_deadline_at.type))
)
_set_step_deadline = (
    incident_table.update()
    .where(incident_table.c.id == sa.bindparam("_id"))
    .values(
        step_index=sa.bindparam("_step", type_=incident_table.c.step_index.type),
        step_deadline_at=sa.bindparam("_due", type_=incident_table.c.step_deadline_at.type),
    )
)
_tasks_of = (
    sa.select(task_table)
    .where(task_table.c.incident_id == sa.bindparam("incident_id"))
    .order_by(task_table.c.id)
)
_select_responder = sa.select(responder_table).where(responder_table.c.id == sa.bindparam("id"))
_available = sa.select(responder_table).where(
    responder_table.c.jurisdiction_id == sa.bindparam("jurisdiction_id"),
    responder_table.c.status == ResponderStatus.AVAILABLE.value,
)
_set_status = (
    responder_table.update()
    .where(responder_table.c.id == sa.bindparam("_id"))
    .values(status=sa.bindparam("_status"), updated_at=sa.bindparam("_updated_at"))
)


def tasks_of(connection: sa.Connection, incident_id: int) -> list[Task]:
    rows = connection.execute(_tasks_of, {"incident_id": incident_id}).mappings()
    return [Task.from_row(row) for row in rows]


def responder(connection: sa.Connection, responder_id: str) -> Responder | None:
    row = connection.execute(_select_responder, {"id": responder_id}).mappings().first()
    return Responder.from_row(row) if row else None


def available_responders(tx: Tx, jurisdiction_id: str) -> list[Responder]:
    """The jurisdiction's free units; while the transaction keeps a roster, read once per pass."""
    roster = tx.roster
    if roster is not None and jurisdiction_id in roster:
        return roster[jurisdiction_id]
    rows = tx.connection.execute(_available, {"jurisdiction_id": jurisdiction_id}).mappings()
    units = [Responder.from_row(row) for row in rows]
    tx.keep_roster(jurisdiction_id, units)
    return units


def set_responder_status(
    connection: sa.Connection, responder_id: str, status: ResponderStatus, now: float
) -> None:
    """Only the bare write: changes of a unit's status go through responder_status.change (logged)."""
    connection.execute(_set_status, {"_id": responder_id, "_status": str(status), "_updated_at": now})
