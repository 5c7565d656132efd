"""Wire shapes of what the people's screens read: the session, the map, a responder's tasks.

Like web/schemas.py, each mirrors a handler's JSON field for field; tests validate real
answers against them with unknown keys refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from dispatch.config.model import Tier
from dispatch.config.screens import Language, TileCoordinates
from dispatch.shared.geo import Position
from dispatch.storage.wire import Grade, Owner
from state_machines import IncidentState, TaskState
from web.schemas import Wire

PeopleRole = Literal["admin", "dispatcher", "responder", "screen", "gateway"]


class SessionUser(Wire):
    name: str
    role: PeopleRole
    jurisdiction: str | None = Field(description="The subtree a dispatcher or screen sees; null: all.")
    responder: str | None = Field(description="A responder's unit id.")
    unit_name: str | None = Field(description="That unit's name.")


class MapOut(Wire):
    tile_url: str | None = Field(description="Tile layer template; null: polygons only.")
    tile_attribution: str
    tile_coordinates: TileCoordinates
    min_zoom: int
    max_zoom: int


class TierLabelsOut(Wire):
    city: str
    town: str
    street: str


class Settings(Wire):
    language: Language = Field(description="The screens' language until the user picks one.")
    timezone: str = Field(description="IANA zone of 'today'.")
    map: MapOut
    tier_labels: TierLabelsOut
    prefecture: str | None
    root: str = Field(description="The city's jurisdiction id.")


class CategoryName(Wire):
    id: str
    name: str
    name_en: str | None
    department: str
    default_severity: int


class DepartmentName(Wire):
    id: str
    name: str
    name_en: str | None


class JurisdictionName(Wire):
    id: str
    name: str
    tier: Tier
    parent: str | None


class Catalog(Wire):
    categories: list[CategoryName]
    departments: list[DepartmentName]
    jurisdictions: list[JurisdictionName]


class SessionInfo(Wire):
    """Who is logged in, and what its screen needs to draw."""

    user: SessionUser
    csrf_token: str | None = Field(description="Send it as X-CSRF-Token with every change; null for a token.")
    expires_at: datetime | None = Field(description="When the session ends; null for a token.")
    home: str | None = Field(description="The caller's screen: /console/, /tablet/ or /screen/.")
    settings: Settings
    catalog: Catalog


class LoggedOut(Wire):
    ended: bool = Field(description="False when the session had ended already.")


# The map ---------------------------------------------------------------------------------------


class JurisdictionProperties(Wire):
    id: str
    name: str
    tier: Tier
    parent: str | None
    center: Position


class JurisdictionFeature(Wire):
    type: Literal["Feature"]
    id: str
    properties: JurisdictionProperties
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, [lon, lat].")


class JurisdictionCollection(Wire):
    """GeoJSON (RFC 7946), WGS-84; the city first, then towns, then streets."""

    type: Literal["FeatureCollection"]
    features: list[JurisdictionFeature]


# A responder's tasks ---------------------------------------------------------------------------


class TaskPlace(Wire):
    location: Position | None
    jurisdiction: str = Field(description="The deepest jurisdiction of the place.")
    street: str | None = Field(description="Its street's name, when it lies in one.")
    town: str | None = Field(description="Its town's name.")


class MyTask(Wire):
    """A task as the tablet shows it."""

    id: int
    incident_id: int
    state: TaskState
    tier: Tier
    category: str
    severity: int = Field(ge=1, le=4)
    grade: Grade
    title: str | None
    description: str | None = Field(description="What the first alert said (numbers masked).")
    note: str | None = Field(description="The dispatcher's words when assigning it by hand.")
    place: TaskPlace
    distance_m: float | None = Field(description="The unit's distance when the task was given.")
    accept_deadline_at: datetime | None
    milestones: dict[str, datetime]
    created_at: datetime
    updated_at: datetime


class MyTasks(Wire):
    """The caller's open tasks and those ended in the last day, newest first."""

    last_seq: int = Field(description="Resume the WebSocket after this sequence number.")
    responder: str
    tasks: list[MyTask]


# One alert, raw ---------------------------------------------------------------------------------


# Statistics (GET /api/v1/stats, dispatch/views/stats.py) -----------------------------------------------


class StateCount(Wire):
    state: IncidentState
    count: int


class SeverityCount(Wire):
    severity: int = Field(ge=1, le=4)
    grade: Grade
    count: int


class CategoryCount(Wire):
    category: str = Field(description="A category of config.yaml.")
    count: int


class OpenNow(Wire):
    """The open incidents (reported … on_scene) of the caller's scope, now."""

    total: int
    overdue: int = Field(
        description=(
            "Open, nobody has accepted, and either the policy step's deadline has passed or the "
            "policy ran out of steps (incident_unanswered) with no task assigned since."
        )
    )
    by_state: list[StateCount] = Field(description="Every open state, zeros included.")
    by_severity: list[SeverityCount] = Field(description="Grades I to IV, zeros included.")
    by_category: list[CategoryCount] = Field(description="Every category of config.yaml, zeros included.")


class ResponseTimes(Wire):
    """Seconds from a task's assignment to its acceptance (or arrival), for the tasks that
    reached it within the period."""

    count: int
    median_s: float | None = Field(description="Null when no task reached it.")
    p90_s: float | None = Field(description="90th percentile (nearest rank); null when none.")


class PeriodFigures(Wire):
    """Counted from the events between `since` and now."""

    opened: int = Field(description="incident_reported events.")
    resolved: int = Field(
        description="incident_resolved events (a reopened one resolved again counts again)."
    )
    closed: int
    cancelled: int
    escalated: int = Field(description="incident_escalated events, by deadline or by hand.")
    delegated: int
    unanswered: int = Field(description="Policies that ran out of steps with nobody accepting.")
    accept: ResponseTimes
    arrive: ResponseTimes


class TierFigures(Wire):
    tier: Tier
    open: int = Field(description="Open incidents this tier owns now.")
    accept: ResponseTimes = Field(description="Tasks of this tier's responders.")
    arrive: ResponseTimes


class TownFigures(Wire):
    town: str = Field(description="A town's id; the city's own id for places outside every town.")
    open: int
    overdue: int
    opened: int
    resolved: int
    escalated: int
    accept: ResponseTimes = Field(description="Tasks on incidents located in this town.")
    arrive: ResponseTimes


class TrendHour(Wire):
    start: datetime = Field(description="The start of the local hour.")
    hour: int = Field(ge=0, le=23, description="The local hour of day.")
    opened: int
    resolved: int


class OpenIncident(Wire):
    """An open incident as the big screen's map marks it."""

    id: int
    category: str
    severity: int = Field(ge=1, le=4)
    grade: Grade
    state: IncidentState
    title: str | None
    location: Position | None
    jurisdiction: str
    town: str = Field(description="The town it lies in (the city's id outside every town).")
    owner: Owner
    created_at: datetime
    deadline_at: datetime | None
    overdue: bool


class Stats(Wire):
    """The figures of the caller's jurisdiction subtree, computed from the stored events."""

    generated_at: datetime = Field(description="The server's time of the figures.")
    since: datetime = Field(description="Start of the period (default: today's local midnight).")
    timezone: str = Field(description="IANA zone of 'today' and of the trend's hours.")
    last_seq: int = Field(description="The newest event the figures include.")
    open: OpenNow
    incidents: list[OpenIncident] = Field(description="The newest open incidents, at most 2000.")
    incidents_truncated: bool = Field(description="More incidents are open than listed.")
    period: PeriodFigures
    tiers: list[TierFigures] = Field(description="City, town, street.")
    towns: list[TownFigures] = Field(
        description="The towns of the scope, then any other place with figures (the city's own last)."
    )
    trend: list[TrendHour] = Field(description="The 24 local hours up to now, oldest first.")
