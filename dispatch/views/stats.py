"""Statistics of the big screen: what is open now, and a period's flow and response times."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dispatch.config.model import TIER_ORDER, Config, Severity, Tier
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.queries import committed_seq, in_scope
from dispatch.storage.tables import event_table, incident_table, task_table
from dispatch.storage.wire import grade, moment, point
from dispatch.views.stats_shapes import (
    OpenIncident,
    OpenNow,
    PeriodFigures,
    Stats,
    TownFigures,
)
from dispatch.views.stats_tally import TREND_HOURS, Area, Tally, Towns, listed_towns
from state_machines.incident import NEW, OPEN, IncidentState

MAX_OPEN_LISTED = 2000
"""The map's markers: the newest open incidents; beyond this the answer says `truncated`."""
MAX_PERIOD_S = 31 * 86_400.0
"""How far back `since` may reach: at most a month of events is read, never the whole log."""

AWAITING = (*NEW, IncidentState.DISPATCHED)
"""Nobody has accepted yet: the only states in which an incident can be overdue."""

PERIOD_EVENTS = {
    "incident_reported": "opened",
    "incident_resolved": "resolved",
    "incident_closed": "closed",
    "incident_cancelled": "cancelled",
    "incident_escalated": "escalated",
    "incident_delegated": "delegated",
    "incident_unanswered": "unanswered",
}
"""Event type → the period's figure it adds one to."""
TREND_EVENTS = {"incident_reported": "opened", "incident_resolved": "resolved"}
MILESTONES = {"task_accepted": "accept", "task_arrived": "arrive"}
"""A task's event → the response time it ends, counted from its task_assigned."""
RESTARTS = ("task_assigned", "incident_reopened")
"""Events after which an unanswered incident is being worked on again."""


def local_midnight(now: float, zone: ZoneInfo) -> float:
    """The start of `now`'s day in `zone` (the default start of the period)."""
    day = datetime.fromtimestamp(now, zone).date()
    return datetime.combine(day, time(0), tzinfo=zone).timestamp()


def trend_start(now: float, zone: ZoneInfo) -> float:
    """The start of the first of the 24 local hours that end with the current one."""
    hour = datetime.fromtimestamp(now, zone).replace(minute=0, second=0, microsecond=0)
    return hour.timestamp() - (TREND_HOURS - 1) * 3600.0


def overdue_rule(now: float) -> sa.ColumnElement[bool]:
    """Open, nobody has accepted, and either its step's deadline passed or nobody answered.

    "Nobody answered": the policy ran out of steps (an `incident_unanswered`, which also
    clears the deadline) and nothing since has put someone on it or given it a new deadline:
    no task assigned after it, no reopening, no hand-over to a tier that still has time. A
    deadline that passed is moved on by the scheduler within a second; it stays overdue only
    while the server is behind.
    """
    unanswered = event_table.alias("unanswered")
    restarted = event_table.alias("restarted")
    last_unanswered = (
        sa.select(sa.func.max(unanswered.c.seq))
        .where(unanswered.c.incident_id == incident_table.c.id, unanswered.c.type == "incident_unanswered")
        .scalar_subquery()
    )
    last_restart = (
        sa.select(sa.func.max(restarted.c.seq))
        .where(restarted.c.incident_id == incident_table.c.id, restarted.c.type.in_(RESTARTS))
        .scalar_subquery()
    )
    # The cheap tests first: the event log is only read for incidents that have no deadline.
    return sa.and_(
        incident_table.c.state.in_(AWAITING),
        sa.or_(
            incident_table.c.step_deadline_at < now,
            sa.and_(
                incident_table.c.step_deadline_at.is_(None),
                last_unanswered > sa.func.coalesce(last_restart, 0),
            ),
        ),
    )


def overview(
    connection: sa.Connection,
    config: Config,
    scope: list[str] | None,
    since: float,
    now: float,
    zone: ZoneInfo,
    department: str | None = None,
) -> Stats:
    """The statistics of the incidents located in, or owned by, `scope` (None: all); given a
    department, of those it leads or co-handles (a department dispatcher's).

    Open counts are of now; the period's counts and response times are of the events from
    `since` to `now`; the trend is of the 24 local hours up to now, whatever `since` is.
    """
    last_seq = committed_seq(connection)  # first: what commits after it shows next time
    tally = Tally(Towns(config))
    for node in config.jurisdictions:
        if node.tier == Tier.TOWN and (scope is None or node.id in scope):
            tally.areas[node.id] = Area()
    first_hour = trend_start(now, zone)
    visible = in_scope(scope, department)
    _count_open(connection, visible, now, tally)
    incidents, truncated = _open_incidents(connection, visible, tally.towns, tally.overdue_ids)
    _count_period(connection, visible, since, now, first_hour, tally)
    for measure, seconds, tier, jurisdiction_id in _response_times(connection, visible, since, now):
        tally.overall[measure].samples.append(seconds)
        tally.per_tier[tier][measure].samples.append(seconds)
        tally.area(jurisdiction_id).times[measure].samples.append(seconds)
    return {
        "generated_at": moment(now),
        "since": moment(since),
        "timezone": zone.key,
        "last_seq": last_seq,
        "open": _open_json(config, tally),
        "incidents": incidents,
        "incidents_truncated": truncated,
        "period": _period_json(tally),
        "tiers": [
            {
                "tier": tier,
                "open": tally.by_tier[tier],
                "accept": tally.per_tier[tier]["accept"].json(),
                "arrive": tally.per_tier[tier]["arrive"].json(),
            }
            for tier in TIER_ORDER
        ],
        "towns": _towns_json(tally),
        "trend": [
            {
                "start": moment(first_hour + index * 3600.0),
                "hour": datetime.fromtimestamp(first_hour + index * 3600.0, zone).hour,
                "opened": opened,
                "resolved": resolved,
            }
            for index, (opened, resolved) in enumerate(tally.trend)
        ],
    }


def _count_open(connection: sa.Connection, visible: sa.ColumnElement[bool], now: float, tally: Tally) -> None:
    """Open incidents by state, grade, category, owner tier and town; and the overdue ones."""
    columns = incident_table.c
    keys = (columns.state, columns.category, columns.severity, columns.owner_tier, columns.jurisdiction_id)
    groups = sa.select(*keys, sa.func.count()).where(columns.state.in_(OPEN), visible).group_by(*keys)
    for state, category, severity, tier, jurisdiction_id, count in connection.execute(groups):
        tally.by_state[state] += count
        tally.by_severity[severity] += count
        tally.by_category[category] += count
        tally.by_tier[tier] += count
        tally.area(jurisdiction_id).open += count
    late = sa.select(columns.id, columns.jurisdiction_id).where(overdue_rule(now), visible)
    for incident_id, jurisdiction_id in connection.execute(late):
        tally.overdue_ids.add(incident_id)
        tally.area(jurisdiction_id).overdue += 1


def _count_period(
    connection: sa.Connection,
    visible: sa.ColumnElement[bool],
    since: float,
    now: float,
    first_hour: float,
    tally: Tally,
) -> None:
    """The period's events by figure and town, and the trend's hours (which may start earlier)."""
    counted = (
        sa.select(event_table.c.type, event_table.c.occurred_at, incident_table.c.jurisdiction_id)
        .join(incident_table, incident_table.c.id == event_table.c.incident_id)
        .where(
            event_table.c.occurred_at >= min(since, first_hour),
            event_table.c.occurred_at <= now,
            event_table.c.type.in_(list(PERIOD_EVENTS)),
            visible,
        )
    )
    for event_type, occurred_at, jurisdiction_id in connection.execute(counted):
        if occurred_at >= since:
            figure = PERIOD_EVENTS[event_type]
            tally.period[figure] += 1
            tally.area(jurisdiction_id).counts[figure] += 1
        if event_type in TREND_EVENTS and occurred_at >= first_hour:
            hour = min(TREND_HOURS - 1, int((occurred_at - first_hour) // 3600))
            tally.trend[hour][0 if TREND_EVENTS[event_type] == "opened" else 1] += 1


def _period_json(tally: Tally) -> PeriodFigures:
    period, overall = tally.period, tally.overall
    return {
        "opened": period["opened"],
        "resolved": period["resolved"],
        "closed": period["closed"],
        "cancelled": period["cancelled"],
        "escalated": period["escalated"],
        "delegated": period["delegated"],
        "unanswered": period["unanswered"],
        "accept": overall["accept"].json(),
        "arrive": overall["arrive"].json(),
    }


def _open_json(config: Config, tally: Tally) -> OpenNow:
    return {
        "total": sum(tally.by_state.values()),
        "overdue": len(tally.overdue_ids),
        "by_state": [{"state": state, "count": tally.by_state[state]} for state in OPEN],
        "by_severity": [
            {"severity": int(severity), "grade": grade(severity), "count": tally.by_severity[severity]}
            for severity in Severity
        ],
        "by_category": [
            {"category": category, "count": tally.by_category[category]}
            for category in _categories(config, tally.by_category)
        ],
    }


def _towns_json(tally: Tally) -> list[TownFigures]:
    return [
        {
            "town": town,
            "open": area.open,
            "overdue": area.overdue,
            "opened": area.counts["opened"],
            "resolved": area.counts["resolved"],
            "escalated": area.counts["escalated"],
            "accept": area.times["accept"].json(),
            "arrive": area.times["arrive"].json(),
        }
        for town in listed_towns(tally.towns, tally.areas)
        for area in (tally.areas[town],)
    ]


def _open_incidents(
    connection: sa.Connection, visible: sa.ColumnElement[bool], towns: Towns, overdue_ids: set[int]
) -> tuple[list[OpenIncident], bool]:
    """The newest open incidents, for the map's markers."""
    columns = incident_table.c
    query = (
        sa.select(
            columns.id,
            columns.category,
            columns.severity,
            columns.state,
            columns.title,
            columns.lat,
            columns.lon,
            columns.jurisdiction_id,
            columns.owner_jurisdiction_id,
            columns.owner_tier,
            columns.created_at,
            columns.step_deadline_at,
        )
        .where(columns.state.in_(OPEN), visible)
        .order_by(columns.id.desc())
        .limit(MAX_OPEN_LISTED + 1)
    )
    rows = connection.execute(query).mappings().all()
    listed: list[OpenIncident] = [
        {
            "id": row["id"],
            "category": row["category"],
            "severity": row["severity"],
            "grade": grade(row["severity"]),
            "state": row["state"],
            "title": row["title"],
            "location": point(row),
            "jurisdiction": row["jurisdiction_id"],
            "town": towns.town(row["jurisdiction_id"]),
            "owner": {"jurisdiction": row["owner_jurisdiction_id"], "tier": row["owner_tier"]},
            "created_at": moment(row["created_at"]),
            "deadline_at": to_rfc3339(row["step_deadline_at"]),
            "overdue": row["id"] in overdue_ids,
        }
        for row in rows[:MAX_OPEN_LISTED]
    ]
    return listed, len(rows) > MAX_OPEN_LISTED


def _response_times(
    connection: sa.Connection, visible: sa.ColumnElement[bool], since: float, now: float
) -> Iterable[tuple[str, float, str, str]]:
    """(accept | arrive, seconds since the task was assigned, the task's tier, the place) for
    every task accepted or arrived between `since` and `now`."""
    done = event_table.alias("done")
    assigned = event_table.alias("assigned")
    query = (
        sa.select(
            done.c.type,
            (done.c.occurred_at - assigned.c.occurred_at).label("seconds"),
            task_table.c.tier,
            incident_table.c.jurisdiction_id,
        )
        .select_from(
            done.join(
                assigned,
                sa.and_(assigned.c.task_id == done.c.task_id, assigned.c.type == "task_assigned"),
            )
            .join(task_table, task_table.c.id == done.c.task_id)
            .join(incident_table, incident_table.c.id == done.c.incident_id)
        )
        .where(
            done.c.occurred_at >= since,
            done.c.occurred_at <= now,
            done.c.type.in_(list(MILESTONES)),
            visible,
        )
    )
    for event_type, seconds, tier, jurisdiction_id in connection.execute(query):
        yield MILESTONES[event_type], max(0.0, float(seconds)), tier, jurisdiction_id


def _categories(config: Config, counted: Counter[str]) -> list[str]:
    """Every category of the config, in its order, then any a later config dropped."""
    known = [category.id for category in config.categories]
    return known + sorted(set(counted) - set(known))
