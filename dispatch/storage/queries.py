"""Read models: what dispatchers list and open, shaped for the wire. Runs off the event loop."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from dispatch.config.model import Config
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.geo import distance_m
from dispatch.storage import department_tasks
from dispatch.storage.tables import (
    alert_table,
    chain_head_table,
    department_task_table,
    event_table,
    incident_table,
    responder_table,
    task_table,
)
from dispatch.storage.wire import (
    MAX_LIMIT,
    AlertWithRaw,
    EventOut,
    IncidentFile,
    IncidentList,
    Origin,
    SuggestedResponder,
    Suggestions,
    Unit,
    alert_json,
    event_json,
    incident_json,
)
from dispatch.storage.wire import task_json as task_json  # gateways/mqtt_devices.py reads it from here
from state_machines import UNANSWERED_TASK_STATES

MAX_TIMELINE = 2000
MAX_SUGGESTIONS = 100


@dataclass(frozen=True)
class IncidentFilter:
    states: tuple[str, ...] = ()
    tier: str | None = None
    jurisdiction: str | None = None
    category: str | None = None
    severity_at_most: int | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0


def subtree(config: Config, root_id: str) -> list[str]:
    return [node.id for node in config.jurisdictions if config.is_within(node.id, root_id)]


def in_scope(ids: list[str] | None, department: str | None = None) -> sa.ColumnElement[bool]:
    """Incidents located in or owned by the jurisdictions `ids` (None: all), and that `department`
    leads or co-handles when one is given (a department dispatcher's scope)."""
    located = (
        sa.true()
        if ids is None
        else sa.or_(
            incident_table.c.jurisdiction_id.in_(ids), incident_table.c.owner_jurisdiction_id.in_(ids)
        )
    )
    if department is None:
        return located
    return sa.and_(located, lists_department(department))


def lists_department(department: str) -> sa.ColumnElement[bool]:
    """The incident's `departments` (a JSON list of ids) holds `department`.

    Matched on the JSON text, quotes included, so that one id is never taken for part of another;
    the same on SQLite and PostgreSQL (whose JSON type keeps the text as written).
    """
    escaped = department.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.cast(incident_table.c.departments, sa.Text).like(f'%"{escaped}"%', escape="\\")


def list_incidents(
    connection: sa.Connection,
    scope: list[str] | None,
    where: IncidentFilter,
    config: Config,
    department: str | None = None,
) -> IncidentList:
    query = sa.select(incident_table).where(in_scope(scope, department))
    if where.states:
        query = query.where(incident_table.c.state.in_(where.states))
    if where.tier:
        query = query.where(incident_table.c.owner_tier == where.tier)
    if where.jurisdiction:
        query = query.where(in_scope(subtree(config, where.jurisdiction)))
    if where.category:
        query = query.where(incident_table.c.category == where.category)
    if where.severity_at_most is not None:
        query = query.where(incident_table.c.severity <= where.severity_at_most)
    if where.since is not None:
        query = query.where(incident_table.c.created_at >= where.since)
    if where.until is not None:
        query = query.where(incident_table.c.created_at < where.until)
    total = connection.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = [
        dict(row)
        for row in connection.execute(
            query.order_by(incident_table.c.id.desc()).limit(where.limit).offset(where.offset)
        ).mappings()
    ]
    channels = alert_channels(connection, [row["id"] for row in rows])
    return {"total": total, "incidents": [incident_json(row, channels.get(row["id"])) for row in rows]}


def alert_channels(connection: sa.Connection, incident_ids: list[int]) -> dict[int, dict[str, int]]:
    """How many alerts of each kind (sensor, video, hotline …) each incident has."""
    if not incident_ids:
        return {}
    counts: dict[int, dict[str, int]] = {}
    query = (
        sa.select(alert_table.c.incident_id, alert_table.c.kind, sa.func.count())
        .where(alert_table.c.incident_id.in_(incident_ids))
        .group_by(alert_table.c.incident_id, alert_table.c.kind)
    )
    for incident_id, kind, count in connection.execute(query):
        counts.setdefault(incident_id, {})[kind] = count
    return counts


def incident_detail(
    connection: sa.Connection, incident_id: int, scope: list[str] | None, department: str | None = None
) -> IncidentFile | None:
    """The incident with its tasks, department tasks, alerts and timeline; None if missing or
    outside `scope` (and `department`'s incidents, given one)."""
    row = (
        connection.execute(
            sa.select(incident_table).where(incident_table.c.id == incident_id, in_scope(scope, department))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    tasks = connection.execute(
        sa.select(task_table).where(task_table.c.incident_id == incident_id).order_by(task_table.c.id)
    ).mappings()
    alerts = connection.execute(
        sa.select(alert_table)
        .where(alert_table.c.incident_id == incident_id)
        .order_by(alert_table.c.id)
        .limit(MAX_LIMIT)
    ).mappings()
    # The newest events, oldest first; a long flood can attach many thousands of alerts.
    events = (
        connection.execute(
            sa.select(event_table)
            .where(event_table.c.incident_id == incident_id)
            .order_by(event_table.c.seq.desc())
            .limit(MAX_TIMELINE + 1)
        )
        .mappings()
        .all()
    )
    return {
        **incident_json(dict(row), alert_channels(connection, [incident_id]).get(incident_id)),
        "tasks": [task_json(dict(task)) for task in tasks],
        "department_tasks": department_tasks.for_incident(connection, incident_id),
        "alerts": [alert_json(dict(alert)) for alert in alerts],
        "timeline_truncated": len(events) > MAX_TIMELINE,
        "timeline": [event_json(dict(event)) for event in reversed(events[:MAX_TIMELINE])],
    }


def alert_with_raw(
    connection: sa.Connection, alert_id: int, scope: list[str] | None, department: str | None = None
) -> AlertWithRaw | None:
    """One alert with its raw payload as the sender wrote it; None if missing or its incident unseen."""
    row = (
        connection.execute(
            sa.select(alert_table)
            .join(incident_table, incident_table.c.id == alert_table.c.incident_id)
            .where(alert_table.c.id == alert_id, in_scope(scope, department))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return {
        **alert_json(dict(row)),
        "raw": row["raw"],
        "resolved_at": to_rfc3339(row["resolved_at"]),
        "cancelled_at": to_rfc3339(row["cancelled_at"]),
    }


def incident_scope_ids(connection: sa.Connection, incident_id: int) -> tuple[str, str] | None:
    row = connection.execute(
        sa.select(incident_table.c.jurisdiction_id, incident_table.c.owner_jurisdiction_id).where(
            incident_table.c.id == incident_id
        )
    ).first()
    return (row.jurisdiction_id, row.owner_jurisdiction_id) if row else None


def events_after(
    connection: sa.Connection,
    after: int,
    limit: int,
    scope: list[str] | None,
    *,
    incidents_only: bool = False,
    department: str | None = None,
) -> list[EventOut]:
    query = sa.select(event_table).where(event_table.c.seq > after)
    if incidents_only:
        query = query.where(event_table.c.incident_id.is_not(None))
    if department is not None:
        # Its incidents' events, and its own department tasks' (a task cancelled because the
        # department was taken off the incident is told to it all the same).
        visible = sa.select(incident_table.c.id).where(in_scope(scope, department))
        worked = sa.select(department_task_table.c.incident_id).where(
            department_task_table.c.department_id == department,
            department_task_table.c.incident_id.in_(sa.select(incident_table.c.id).where(in_scope(scope))),
        )
        query = query.where(
            sa.or_(
                event_table.c.incident_id.in_(visible),
                sa.and_(
                    event_table.c.type.like("department\\_task\\_%", escape="\\"),
                    event_table.c.incident_id.in_(worked),
                ),
            )
        )
    elif scope is not None:
        visible = sa.select(incident_table.c.id).where(in_scope(scope))
        query = query.where(event_table.c.incident_id.in_(visible))
    rows = connection.execute(query.order_by(event_table.c.seq).limit(limit)).mappings()
    return [event_json(dict(row)) for row in rows]


def events_for_responder(
    connection: sa.Connection, responder_id: str, after: int, limit: int
) -> list[EventOut]:
    """A responder's events: its own tasks', and its incidents' from its first task on."""
    own_tasks = sa.select(task_table.c.id).where(task_table.c.responder_id == responder_id)
    assigned = event_table.alias("assigned")
    joined_before = (
        sa.select(assigned.c.seq)
        .join(task_table, assigned.c.task_id == task_table.c.id)
        .where(
            task_table.c.responder_id == responder_id,
            task_table.c.incident_id == event_table.c.incident_id,
            assigned.c.type == "task_assigned",
            assigned.c.seq < event_table.c.seq,
        )
        .exists()
    )
    query = (
        sa.select(event_table)
        .where(
            event_table.c.seq > after,
            sa.or_(
                event_table.c.task_id.in_(own_tasks),
                sa.and_(event_table.c.task_id.is_(None), joined_before),
            ),
        )
        .order_by(event_table.c.seq)
        .limit(limit)
    )
    return [event_json(dict(row)) for row in connection.execute(query).mappings()]


def responders(connection: sa.Connection, scope: list[str] | None) -> list[Unit]:
    query = sa.select(responder_table).order_by(responder_table.c.id)
    if scope is not None:
        query = query.where(responder_table.c.jurisdiction_id.in_(scope))
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "jurisdiction": row["jurisdiction_id"],
            "department": row["department_id"],
            "skills": row["skills"],
            "status": row["status"],
            "position": {"lat": row["lat"], "lon": row["lon"]},
            "position_at": to_rfc3339(row["position_at"]),
        }
        for row in connection.execute(query).mappings()
    ]


def suggestions(
    connection: sa.Connection,
    config: Config,
    incident_id: int,
    limit: int,
    scope: list[str] | None,
    units: list[str] | None,
    department: str | None = None,
) -> Suggestions | None:
    """The available responders nearest the incident: qualified ones first, then by distance.

    Distances run from the incident's position, or from its owner's center when it has none,
    to where each responder was last seen (its position moves with presence updates). None if
    the incident is missing or outside `scope`; only units of the jurisdictions `units` names.
    """
    found = sa.select(incident_table).where(incident_table.c.id == incident_id, in_scope(scope, department))
    incident = connection.execute(found).mappings().first()
    if incident is None:
        return None
    owner = config.jurisdiction_by_id[incident["owner_jurisdiction_id"]]
    if incident["lat"] is not None and incident["lon"] is not None:
        origin: Origin = {"lat": incident["lat"], "lon": incident["lon"], "from": "incident"}
    else:
        origin = {"lat": owner.center.lat, "lon": owner.center.lon, "from": "owner_center"}
    lat, lon = origin["lat"], origin["lon"]
    category = config.category_by_id.get(incident["category"])
    needed = set(category.skills) if category else set()
    query = sa.select(responder_table).where(responder_table.c.status == "available")
    if units is not None:
        query = query.where(responder_table.c.jurisdiction_id.in_(units))
    ranked: list[tuple[bool, float, str, SuggestedResponder]] = []
    for row in connection.execute(query).mappings():
        distance = round(distance_m(lat, lon, row["lat"], row["lon"]), 1)
        qualified = needed.issubset(row["skills"])
        unit: SuggestedResponder = {
            "id": row["id"],
            "name": row["name"],
            "jurisdiction": row["jurisdiction_id"],
            "department": row["department_id"],
            "skills": row["skills"],
            "distance_m": distance,
            "qualified": qualified,
            "in_owner_jurisdiction": config.is_within(row["jurisdiction_id"], owner.id),
            "position": {"lat": row["lat"], "lon": row["lon"]},
            "position_at": to_rfc3339(row["position_at"]),
        }
        ranked.append((not qualified, distance, row["id"], unit))
    ranked.sort(key=lambda item: item[:3])
    return {
        "incident_id": incident_id,
        "jurisdiction": incident["jurisdiction_id"],
        "owner": {"jurisdiction": owner.id, "tier": incident["owner_tier"]},
        "origin": origin,
        "skills_needed": sorted(needed),
        "responders": [unit for *_, unit in ranked[:limit]],
    }


"""Tasks not yet accepted or declined: what a device that may have missed them is sent again."""


_UNANSWERED = sorted(state.value for state in UNANSWERED_TASK_STATES)


def unanswered_assignments(connection: sa.Connection, limit: int = 10_000) -> list[EventOut]:
    """The task_assigned events of every unanswered task, oldest first."""
    query = (
        sa.select(event_table)
        .join(task_table, event_table.c.task_id == task_table.c.id)
        .where(event_table.c.type == "task_assigned", task_table.c.state.in_(_UNANSWERED))
        .order_by(event_table.c.seq)
        .limit(limit)
    )
    return [event_json(dict(row)) for row in connection.execute(query).mappings()]


def committed_seq(connection: sa.Connection) -> int:
    """The newest committed event's sequence number (0: none yet)."""
    seq: int | None = connection.execute(sa.select(chain_head_table.c.seq)).scalar()
    return seq or 0
