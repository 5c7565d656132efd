"""What a responder's tablet reads: its own tasks, each with the place in words and the notes."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.config.model import Config, Severity, Tier
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.tables import alert_table, event_table, incident_table, task_table
from dispatch.storage.wire import milestones

MY_TASKS_LIMIT = 100
ENDED_TASKS_SHOWN_S = 86_400.0
"""A tablet also lists the tasks that ended in the last day, so a unit sees what it did today."""


ENDED = ("done", "declined", "expired", "cancelled")


def tasks_of_responder(
    connection: sa.Connection, config: Config, responder_id: str, now: float
) -> list[dict[str, Any]]:
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


def _task(config: Config, responder_id: str, row: sa.RowMapping) -> dict[str, Any]:
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
        "grade": Severity(row["severity"]).name,
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
        "created_at": to_rfc3339(row["created_at"]),
        "updated_at": to_rfc3339(row["updated_at"]),
    }
