"""The shapes the read queries return: typed dicts that mypy checks and pydantic documents.

The functions at the end shape a stored row into them.

dispatch/storage/queries.py builds these (mypy refuses a missing or extra key); web/ serves
them as they are and documents them in OpenAPI from these very types, so the document and
the wire cannot drift. Times are RFC 3339 text (dispatch/shared/clock.py) documented as
date-time; positions are plain {lat, lon} documented as a Position.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, cast

import orjson
from pydantic import ConfigDict, Field, GetPydanticSchema, with_config
from typing_extensions import TypedDict

from dispatch.config.model import Severity, Tier
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.geo import Position
from dispatch.storage.records import AlertKind
from state_machines import DepartmentTaskState, IncidentState, TaskState

MAX_LIMIT = 500
"""Largest page of incidents, and how many alerts an incident's detail lists."""

FORBID = ConfigDict(extra="forbid")
"""Every key is always present (null when unknown) and none is extra."""

Grade = Literal["I", "II", "III", "IV"]
ResponderStatus = Literal["available", "busy", "off_duty"]


class Point(TypedDict):
    lat: float
    lon: float


Where = Annotated[Point, GetPydanticSchema(lambda _type, handler: handler(Position))]
"""A position on the wire, documented as the Position model."""
Moment = Annotated[str, GetPydanticSchema(lambda _type, handler: handler(datetime))]
"""A time as RFC 3339 text, documented as date-time."""


@with_config(FORBID)
class Owner(TypedDict):
    jurisdiction: Annotated[str, Field(description="The jurisdiction that owns the incident now.")]
    tier: Annotated[Tier, Field(description="Its tier.")]


@with_config(FORBID)
class PolicyStepOut(TypedDict):
    tier: Annotated[Tier, Field(description="Tier that owns the incident during this step.")]
    accept_within: Annotated[float, Field(description="Seconds the step's responders have to accept.")]
    responders: Annotated[int, Field(description="How many responders get a task.")]
    department_only: Annotated[
        bool, Field(description="Only responders of the category's department qualify.")
    ]


@with_config(FORBID)
class PolicySnapshot(TypedDict):
    """The escalation policy copied onto the incident when it opened, and where it stands."""

    name: Annotated[str, Field(description="The policy's name in config.yaml.")]
    step: Annotated[int, Field(description="Index of the current step in `steps`.")]
    notify_all_tiers: bool
    notify_prefecture: bool
    auto_resolve: NotRequired[
        Annotated[
            bool,
            Field(
                description="Resolve by itself once every alert resolved; absent (false) in older policies."
            ),
        ]
    ]
    steps: list[PolicyStepOut]
    department_accept_within: NotRequired[
        Annotated[float, Field(description="Seconds a co-handling department has to accept its task.")]
    ]
    resolve_with_open_departments: NotRequired[
        Annotated[
            bool,
            Field(description="Resolve may leave co-handlers' parts open; absent (false) in older ones."),
        ]
    ]


@with_config(FORBID)
class IncidentOut(TypedDict):
    """An incident as lists show it."""

    id: int
    category: Annotated[str, Field(description="A category of config.yaml.")]
    severity: Annotated[int, Field(ge=1, le=4, description="1 (I, most severe) … 4 (IV).")]
    grade: Annotated[Grade, Field(description="The severity as its official grade.")]
    state: IncidentState
    title: str | None
    location: Annotated[Where | None, Field(description="Where, when an alert gave a position.")]
    jurisdiction: Annotated[str, Field(description="The deepest jurisdiction holding the place.")]
    outside_area: Annotated[bool, Field(description="The place lies outside every jurisdiction polygon.")]
    owner: Owner
    departments: Annotated[list[str], Field(description="Departments taking part.")]
    alert_count: int
    channels: Annotated[
        dict[str, int],
        Field(description="How many of its alerts came by each channel (sensor, video, hotline, cap …)."),
    ]
    policy: PolicySnapshot
    deadline_at: Annotated[Moment | None, Field(description="When the current step times out.")]
    forwarded_to_prefecture: bool
    merged_into: Annotated[int | None, Field(description="The incident that absorbed this one.")]
    summary: Annotated[str | None, Field(description="The resolution's reason.")]
    milestones: Annotated[dict[str, Moment], Field(description="When each state was first reached.")]
    first_alert_at: Moment
    last_alert_at: Moment
    created_at: Moment
    updated_at: Moment


@with_config(FORBID)
class TaskOut(TypedDict):
    """A responder's task on an incident."""

    id: int
    incident_id: int
    responder_id: str
    state: TaskState
    tier: Annotated[Tier, Field(description="The tier whose step gave the task.")]
    step: Annotated[int, Field(description="Index of that step in the incident's policy.")]
    distance_m: Annotated[float | None, Field(description="The responder's distance when assigned.")]
    accept_deadline_at: Moment | None
    delivered_via: Annotated[
        str | None, Field(description="The channel that delivered it (rest, ws, mqtt …).")
    ]
    milestones: Annotated[dict[str, Moment], Field(description="When each state was first reached.")]
    created_at: Moment
    updated_at: Moment


@with_config(FORBID)
class DepartmentTaskOut(TypedDict):
    """A co-handling department's part of an incident (协办)."""

    id: int
    incident_id: int
    department_id: Annotated[str, Field(description="The department (config.yaml `departments`).")]
    state: DepartmentTaskState
    reason: Annotated[
        str | None, Field(description="decline: why; complete or cancel: what was said, if anything.")
    ]
    accept_by: Annotated[
        Moment | None, Field(description="Not accepted by then: the city center is alarmed.")
    ]
    escalated: Annotated[bool, Field(description="The city center was alarmed (it stays open).")]
    milestones: Annotated[dict[str, Moment], Field(description="When each state was first reached.")]
    created_at: Moment
    updated_at: Moment


@with_config(FORBID)
class AlertOut(TypedDict):
    """An alert as stored, with the incident it joined."""

    id: int
    source: str
    source_event_id: str
    kind: AlertKind
    category: str
    severity: Annotated[int, Field(ge=1, le=4)]
    location: Where | None
    jurisdiction: str
    observed_at: Moment
    received_at: Moment
    title: str | None
    description: str | None
    attributes: dict[str, Any]
    incident_id: int


@with_config(FORBID)
class AlertWithRaw(AlertOut):
    """An alert with the message exactly as its sender wrote it."""

    raw: Annotated[str, Field(description="The sender's message: CAP XML, Frigate or Alertmanager JSON, …")]
    resolved_at: Annotated[Moment | None, Field(description="When its sender said the condition is over.")]
    cancelled_at: Annotated[Moment | None, Field(description="When its sender withdrew it.")]


@with_config(FORBID)
class EventOut(TypedDict):
    """One entry of the append-only event log."""

    seq: Annotated[int, Field(description="Position in the log; consecutive.")]
    type: Annotated[
        str, Field(description="What happened, in the past tense: incident_escalated, task_accepted …")
    ]
    occurred_at: Moment
    actor: Annotated[str, Field(description="Who or what caused it.")]
    causation_id: Annotated[
        str | None, Field(description="The request (X-Request-Id) or event that caused it.")
    ]
    incident_id: int | None
    task_id: int | None
    payload: dict[str, Any]


@with_config(FORBID)
class IncidentFile(IncidentOut):
    """An incident with its tasks, alerts and timeline."""

    tasks: list[TaskOut]
    department_tasks: Annotated[
        list[DepartmentTaskOut], Field(description="Co-handling departments' parts (协办), oldest first.")
    ]
    alerts: Annotated[list[AlertOut], Field(description=f"The first {MAX_LIMIT} alerts, oldest first.")]
    timeline_truncated: Annotated[bool, Field(description="Older events were left out of the timeline.")]
    timeline: Annotated[list[EventOut], Field(description="Its newest events, oldest first.")]


@with_config(FORBID)
class IncidentList(TypedDict):
    total: Annotated[int, Field(description="How many match the filters, over all pages.")]
    incidents: Annotated[list[IncidentOut], Field(description="Newest first.")]


@with_config(FORBID)
class Unit(TypedDict):
    """A responder as stored: who, where, and its status."""

    id: str
    name: str
    jurisdiction: str
    department: str | None
    skills: list[str]
    status: ResponderStatus
    position: Annotated[Where, Field(description="The last reported position (home until one is reported).")]
    position_at: Annotated[Moment | None, Field(description="When the position was reported.")]


Origin = TypedDict(  # "from" is a keyword: only this form can name the key
    "Origin",
    {
        "lat": float,
        "lon": float,
        "from": Annotated[
            Literal["incident", "owner_center"],
            Field(description="The incident's position, or its owner's center when it has none."),
        ],
    },
)
with_config(FORBID)(Origin)  # the decorator, applied by hand to a TypedDict made by a call


@with_config(FORBID)
class SuggestedResponder(TypedDict):
    id: str
    name: str
    jurisdiction: str
    department: str | None
    skills: list[str]
    distance_m: Annotated[float, Field(description="From `origin` to where the responder was last seen.")]
    qualified: Annotated[bool, Field(description="Has every skill the category needs.")]
    in_owner_jurisdiction: bool
    position: Where
    position_at: Moment | None


@with_config(FORBID)
class Suggestions(TypedDict):
    """Available responders nearest the incident: qualified ones first, then by distance."""

    incident_id: int
    jurisdiction: str
    owner: Owner
    origin: Origin
    skills_needed: list[str]
    responders: list[SuggestedResponder]


# Rows into shapes ----------------------------------------------------------------------------


def moment(epoch: Any) -> str:
    """A time of a NOT NULL column as RFC 3339 text."""
    return cast(str, to_rfc3339(epoch))  # None only for None, which such a column never holds


def milestones(values: dict[str, float]) -> dict[str, str]:
    return {state: moment(at) for state, at in values.items()}


def point(row: Mapping[Any, Any]) -> Point | None:
    """The row's `lat` and `lon`, when it has both."""
    return (
        {"lat": row["lat"], "lon": row["lon"]} if row["lat"] is not None and row["lon"] is not None else None
    )


def grade(severity: int) -> Grade:
    return cast(Grade, Severity(severity).name)  # Severity's names are the grades


def incident_json(row: dict[str, Any], channels: dict[str, int] | None = None) -> IncidentOut:
    # The policy as the pipeline stored it when the incident opened (older ones lack auto_resolve).
    policy = cast(PolicySnapshot, {"name": row["policy_name"], "step": row["step_index"], **row["policy"]})
    return {
        "id": row["id"],
        "category": row["category"],
        "severity": row["severity"],
        "grade": grade(row["severity"]),
        "state": row["state"],
        "title": row["title"],
        "location": point(row),
        "jurisdiction": row["jurisdiction_id"],
        "outside_area": bool(row["outside_area"]),
        "owner": {"jurisdiction": row["owner_jurisdiction_id"], "tier": row["owner_tier"]},
        "departments": row["departments"],
        "alert_count": row["alert_count"],
        "channels": channels or {},
        "policy": policy,
        "deadline_at": to_rfc3339(row["step_deadline_at"]),
        "forwarded_to_prefecture": bool(row["forwarded"]),
        "merged_into": row["merged_into"],
        "summary": row["summary"],
        "milestones": milestones(row["milestones"]),
        "first_alert_at": moment(row["first_alert_at"]),
        "last_alert_at": moment(row["last_alert_at"]),
        "created_at": moment(row["created_at"]),
        "updated_at": moment(row["updated_at"]),
    }


def task_json(row: dict[str, Any]) -> TaskOut:
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "responder_id": row["responder_id"],
        "state": row["state"],
        "tier": row["tier"],
        "step": row["step_index"],
        "distance_m": row["distance_m"],
        "accept_deadline_at": to_rfc3339(row["accept_deadline_at"]),
        "delivered_via": row["delivered_via"],
        "milestones": milestones(row["milestones"]),
        "created_at": moment(row["created_at"]),
        "updated_at": moment(row["updated_at"]),
    }


def alert_json(row: dict[str, Any]) -> AlertOut:
    return {
        "id": row["id"],
        "source": row["source"],
        "source_event_id": row["source_event_id"],
        "kind": row["kind"],
        "category": row["category"],
        "severity": row["severity"],
        "location": point(row),
        "jurisdiction": row["jurisdiction_id"],
        "observed_at": moment(row["observed_at"]),
        "received_at": moment(row["received_at"]),
        "title": row["title"],
        "description": row["description"],
        "attributes": row["attributes"],
        "incident_id": row["incident_id"],
    }


def event_json(row: dict[str, Any]) -> EventOut:
    return {
        "seq": row["seq"],
        "type": row["type"],
        "occurred_at": moment(row["occurred_at"]),
        "actor": row["actor"],
        "causation_id": row["causation_id"],
        "incident_id": row["incident_id"],
        "task_id": row["task_id"],
        "payload": orjson.loads(row["payload"]),
    }
