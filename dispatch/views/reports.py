"""After-action figures: a period's incidents with their times to dispatch, accept, arrive, resolve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dispatch.storage.queries import in_scope
from dispatch.storage.tables import incident_table, task_table

MAX_EXPORT = 50_000
"""More incidents than this in one period: the caller is asked to narrow it."""
_CHUNK = 500


@dataclass(frozen=True)
class IncidentTimes:
    """One incident of a period and when its work reached each milestone (epoch seconds)."""

    row: dict[str, Any]
    first_task_at: float | None
    first_accepted_at: float | None
    first_arrived_at: float | None
    tasks: int


def count_in_period(
    connection: sa.Connection,
    scope: list[str] | None,
    since: float,
    until: float,
    department: str | None = None,
) -> int:
    query = sa.select(sa.func.count()).where(
        in_scope(scope, department), incident_table.c.created_at >= since, incident_table.c.created_at < until
    )
    return int(connection.execute(query).scalar() or 0)


def incidents_in_period(
    connection: sa.Connection,
    scope: list[str] | None,
    since: float,
    until: float,
    department: str | None = None,
) -> list[IncidentTimes]:
    """Incidents opened in [since, until) within the scope, oldest first, with their task times."""
    rows = [
        dict(row)
        for row in connection.execute(
            sa.select(incident_table)
            .where(
                in_scope(scope, department),
                incident_table.c.created_at >= since,
                incident_table.c.created_at < until,
            )
            .order_by(incident_table.c.id)
            .limit(MAX_EXPORT)
        ).mappings()
    ]
    tasks: dict[int, list[dict[str, Any]]] = {}
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = sa.select(task_table.c.incident_id, task_table.c.created_at, task_table.c.milestones).where(
            task_table.c.incident_id.in_(chunk)
        )
        for task in connection.execute(query).mappings():
            tasks.setdefault(task["incident_id"], []).append(dict(task))
    return [_times(row, tasks.get(row["id"], [])) for row in rows]


def _times(row: dict[str, Any], tasks: list[dict[str, Any]]) -> IncidentTimes:
    def first(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return min(known) if known else None

    return IncidentTimes(
        row=row,
        first_task_at=first([task["created_at"] for task in tasks]),
        first_accepted_at=first([task["milestones"].get("accepted") for task in tasks]),
        first_arrived_at=first([task["milestones"].get("on_scene") for task in tasks]),
        tasks=len(tasks),
    )
