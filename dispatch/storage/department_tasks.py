"""Department tasks (协办) in the database: the writer's record access, and the queue as read."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import NotFound
from dispatch.storage.records import DepartmentTask
from dispatch.storage.tables import department_task_table, incident_table
from dispatch.storage.wire import FORBID, DepartmentTaskOut, Grade, grade, milestones, moment
from state_machines import OPEN_DEPARTMENT_TASK_STATES, DepartmentTaskState, IncidentState

MAX_QUEUE = 500

# The writer's side ----------------------------------------------------------------------------


def department_task(connection: sa.Connection, task_id: int) -> DepartmentTask:
    row = (
        connection.execute(sa.select(department_task_table).where(department_task_table.c.id == task_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"department task {task_id} does not exist", field="id")
    return DepartmentTask.from_row(row)


def of_incident(connection: sa.Connection, incident_id: int) -> list[DepartmentTask]:
    rows = connection.execute(
        sa.select(department_task_table)
        .where(department_task_table.c.incident_id == incident_id)
        .order_by(department_task_table.c.id)
    ).mappings()
    return [DepartmentTask.from_row(row) for row in rows]


def open_of(connection: sa.Connection, incident_id: int) -> list[DepartmentTask]:
    """The incident's department tasks still sent or accepted."""
    return [
        task for task in of_incident(connection, incident_id) if task.state in OPEN_DEPARTMENT_TASK_STATES
    ]


def insert(connection: sa.Connection, task: DepartmentTask) -> None:
    connection.execute(department_task_table.insert().values(**task.as_row()))


_UNESCALATED = (
    department_task_table.c.state == DepartmentTaskState.SENT.value,
    department_task_table.c.escalated.is_(False),
    department_task_table.c.accept_by.is_not(None),
)


def due(connection: sa.Connection, now: float, limit: int) -> list[int]:
    """Sent, not yet escalated, and past their `accept_by`: oldest deadline first."""
    query = (
        sa.select(department_task_table.c.id)
        .where(*_UNESCALATED, department_task_table.c.accept_by <= now)
        .order_by(department_task_table.c.accept_by)
        .limit(limit)
    )
    return list(connection.execute(query).scalars().all())


def next_due(connection: sa.Connection) -> float | None:
    found: float | None = connection.execute(
        sa.select(sa.func.min(department_task_table.c.accept_by)).where(*_UNESCALATED)
    ).scalar()
    return found


def stop_escalating(connection: sa.Connection, task_id: int) -> None:
    """A deadline that broke when fired is never fired again: a dispatcher must look."""
    connection.execute(
        department_task_table.update().where(department_task_table.c.id == task_id).values(escalated=True)
    )


# What is read ---------------------------------------------------------------------------------


@with_config(FORBID)
class IncidentBrief(TypedDict):
    """What a sub-center's queue shows of the task's incident."""

    category: str
    severity: Annotated[int, Field(ge=1, le=4, description="1 (I, most severe) … 4 (IV).")]
    grade: Grade
    title: str | None
    jurisdiction: str
    state: IncidentState


@with_config(FORBID)
class QueuedDepartmentTask(DepartmentTaskOut):
    incident: IncidentBrief


@with_config(FORBID)
class DepartmentTaskQueue(TypedDict):
    department_tasks: Annotated[list[QueuedDepartmentTask], Field(description="Newest first.")]


def department_task_json(row: dict[str, Any]) -> DepartmentTaskOut:
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "department_id": row["department_id"],
        "state": row["state"],
        "reason": row["reason"],
        "accept_by": to_rfc3339(row["accept_by"]),
        "escalated": bool(row["escalated"]),
        "milestones": milestones(row["milestones"]),
        "created_at": moment(row["created_at"]),
        "updated_at": moment(row["updated_at"]),
    }


def for_incident(connection: sa.Connection, incident_id: int) -> list[DepartmentTaskOut]:
    return [department_task_json(task.as_row()) for task in of_incident(connection, incident_id)]


def queue(
    connection: sa.Connection,
    visible: sa.ColumnElement[bool],
    *,
    states: tuple[str, ...] = (),
    department: str | None = None,
) -> DepartmentTaskQueue:
    """The tasks of the incidents `visible` selects (the caller's scope), newest first."""
    query = (
        sa.select(
            department_task_table,
            incident_table.c.category,
            incident_table.c.severity,
            incident_table.c.title,
            incident_table.c.jurisdiction_id,
            incident_table.c.state.label("incident_state"),
        )
        .join(incident_table, incident_table.c.id == department_task_table.c.incident_id)
        .where(visible)
    )
    if states:
        query = query.where(department_task_table.c.state.in_(states))
    if department is not None:
        query = query.where(department_task_table.c.department_id == department)
    rows = connection.execute(query.order_by(department_task_table.c.id.desc()).limit(MAX_QUEUE)).mappings()
    return {"department_tasks": [_queued(dict(row)) for row in rows]}


def _queued(row: dict[str, Any]) -> QueuedDepartmentTask:
    return {
        **department_task_json(row),
        "incident": {
            "category": row["category"],
            "severity": row["severity"],
            "grade": grade(row["severity"]),
            "title": row["title"],
            "jurisdiction": row["jurisdiction_id"],
            "state": row["incident_state"],
        },
    }
