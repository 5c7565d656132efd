"""What a responder's tablet reads: its own tasks, each with the place in words and the notes."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.config.model import Config, Tier
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.tables import alert_table, event_table, incident_table, task_table
from dispatch.storage.wire import FORBID, Grade, Moment, Where, grade, milestones, moment
from state_machines import ENDED_TASK_STATES, TaskState


@with_config(FORBID)
class TaskPlace(TypedDict):
    location: Where | None
    jurisdiction: Annotated[str, Field(description="The deepest jurisdiction of the place.")]
    street: Annotated[str | None, Field(description="Its street's name, when it lies in one.")]
    town: Annotated[str | None, Field(description="Its town's name.")]


@with_config(FORBID)
class MyTask(TypedDict):
    """A task as the tablet shows it."""

    id: int
    incident_id: int
    state: TaskState
    tier: Tier
    category: str
    severity: Annotated[int, Field(ge=1, le=4)]
    grade: Grade
    title: str | None
    description: Annotated[str | None, Field(description="What the first alert said (numbers masked).")]
    note: Annotated[str | None, Field(description="The dispatcher's words when assigning it by hand.")]
    place: TaskPlace
    distance_m: Annotated[float | None, Field(description="The unit's distance when the task was given.")]
    accept_deadline_at: Moment | None
    milestones: dict[str, Moment]
    created_at: Moment
    updated_at: Moment


MY_TASKS_LIMIT = 100
ENDED_TASKS_SHOWN_S = 86_400.0
"""A tablet also lists the tasks that ended in the last day, so a unit sees what it did today."""


ENDED = sorted(state.value for state in ENDED_TASK_STATES)


def tasks_of_responder(
    connection: sa.Connection, config: Config, responder_id: str, now: float
) -> list[MyTask]:
    """A responder's open tasks and those ended lately, newest first, with the incident's place."""
    query = (
        sa.select(
            task_table,
            incident_table.c.category,
            incident_table.c.severity,
            incident_table.c.title,
            incident_table.c.lat,
            incident_table.c.lon,
            incident_table.c.jurisdiction_id,
            _first_alert().label("description"),
            _assigned_by_hand().label("assignment"),
        )
        .join(incident_table, incident_table.c.id == task_table.c.incident_id)
        .where(
            task_table.c.responder_id == responder_id,
            sa.or_(task_table.c.state.not_in(ENDED), task_table.c.updated_at >= now - ENDED_TASKS_SHOWN_S),
        )
        .order_by(task_table.c.id.desc())
        .limit(MY_TASKS_LIMIT)
    )
    return [_task(config, responder_id, row) for row in connection.execute(query).mappings()]


def _first_alert() -> sa.ScalarSelect[Any]:
    """The description of the incident's first alert."""
    return (
        sa.select(alert_table.c.description)
        .where(alert_table.c.incident_id == incident_table.c.id)
        .order_by(alert_table.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _assigned_by_hand() -> sa.ScalarSelect[Any]:
    """The dispatcher's words when this unit was assigned by hand: the newest incident_assigned
    before the task's own first event."""
    assigned = event_table.alias("assigned")
    first_of_task = event_table.alias("first_of_task")
    return (
        sa.select(assigned.c.payload)
        .where(
            assigned.c.incident_id == task_table.c.incident_id,
            assigned.c.type == "incident_assigned",
            assigned.c.seq
            < sa.select(sa.func.min(first_of_task.c.seq))
            .where(first_of_task.c.task_id == task_table.c.id)
            .correlate(task_table)  # two levels down: SQLAlchemy would not correlate it by itself
            .scalar_subquery(),
        )
        .order_by(assigned.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


def _task(config: Config, responder_id: str, row: sa.RowMapping) -> MyTask:
    """One task as the tablet shows it: the place in words, and the dispatcher's note to this unit."""
    assignment = orjson.loads(row["assignment"]) if row["assignment"] else None
    note = assignment["reason"] if assignment and assignment.get("responder_id") == responder_id else None
    place = config.jurisdiction_by_id.get(row["jurisdiction_id"])
    street = town = None
    if place is not None:
        path = {node.tier: node.name for node in config.ancestors(place.id)}
        street, town = path.get(Tier.STREET), path.get(Tier.TOWN)
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "state": row["state"],
        "tier": row["tier"],
        "category": row["category"],
        "severity": row["severity"],
        "grade": grade(row["severity"]),
        "title": row["title"],
        "description": row["description"],
        "note": note,
        "place": {
            "location": {"lat": row["lat"], "lon": row["lon"]} if row["lat"] is not None else None,
            "jurisdiction": row["jurisdiction_id"],
            "street": street,
            "town": town,
        },
        "distance_m": row["distance_m"],
        "accept_deadline_at": to_rfc3339(row["accept_deadline_at"]),
        "milestones": milestones(row["milestones"]),
        "created_at": moment(row["created_at"]),
        "updated_at": moment(row["updated_at"]),
    }
