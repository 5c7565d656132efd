"""The shapes of the big screen's statistics: typed dicts that mypy checks and pydantic documents."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, with_config
from typing_extensions import TypedDict

from dispatch.config.model import Tier
from dispatch.storage.wire import FORBID, Grade, Moment, Owner, Where
from state_machines import IncidentState


@with_config(FORBID)
class StateCount(TypedDict):
    state: IncidentState
    count: int


@with_config(FORBID)
class SeverityCount(TypedDict):
    severity: Annotated[int, Field(ge=1, le=4)]
    grade: Grade
    count: int


@with_config(FORBID)
class CategoryCount(TypedDict):
    category: Annotated[str, Field(description="A category of config.yaml.")]
    count: int


@with_config(FORBID)
class OpenNow(TypedDict):
    """The open incidents (reported … on_scene) of the caller's scope, now."""

    total: int
    overdue: Annotated[
        int,
        Field(
            description=(
                "Open, nobody has accepted, and either the policy step's deadline has passed or the "
                "policy ran out of steps (incident_unanswered) with no task assigned since."
            )
        ),
    ]
    by_state: Annotated[list[StateCount], Field(description="Every open state, zeros included.")]
    by_severity: Annotated[list[SeverityCount], Field(description="Grades I to IV, zeros included.")]
    by_category: Annotated[
        list[CategoryCount], Field(description="Every category of config.yaml, zeros included.")
    ]


@with_config(FORBID)
class ResponseTimes(TypedDict):
    """Seconds from a task's assignment to its acceptance (or arrival), for the tasks that
    reached it within the period."""

    count: int
    median_s: Annotated[float | None, Field(description="Null when no task reached it.")]
    p90_s: Annotated[float | None, Field(description="90th percentile (nearest rank); null when none.")]


@with_config(FORBID)
class PeriodFigures(TypedDict):
    """Counted from the events between `since` and now."""

    opened: Annotated[int, Field(description="incident_reported events.")]
    resolved: Annotated[
        int, Field(description="incident_resolved events (a reopened one resolved again counts again).")
    ]
    closed: int
    cancelled: int
    escalated: Annotated[int, Field(description="incident_escalated events, by deadline or by hand.")]
    delegated: int
    unanswered: Annotated[int, Field(description="Policies that ran out of steps with nobody accepting.")]
    accept: ResponseTimes
    arrive: ResponseTimes


@with_config(FORBID)
class TierFigures(TypedDict):
    tier: Tier
    open: Annotated[int, Field(description="Open incidents this tier owns now.")]
    accept: Annotated[ResponseTimes, Field(description="Tasks of this tier's responders.")]
    arrive: ResponseTimes


@with_config(FORBID)
class TownFigures(TypedDict):
    town: Annotated[str, Field(description="A town's id; the city's own id for places outside every town.")]
    open: int
    overdue: int
    opened: int
    resolved: int
    escalated: int
    accept: Annotated[ResponseTimes, Field(description="Tasks on incidents located in this town.")]
    arrive: ResponseTimes


@with_config(FORBID)
class TrendHour(TypedDict):
    start: Annotated[Moment, Field(description="The start of the local hour.")]
    hour: Annotated[int, Field(ge=0, le=23, description="The local hour of day.")]
    opened: int
    resolved: int


@with_config(FORBID)
class OpenIncident(TypedDict):
    """An open incident as the big screen's map marks it."""

    id: int
    category: str
    severity: Annotated[int, Field(ge=1, le=4)]
    grade: Grade
    state: IncidentState
    title: str | None
    location: Where | None
    jurisdiction: str
    town: Annotated[str, Field(description="The town it lies in (the city's id outside every town).")]
    owner: Owner
    created_at: Moment
    deadline_at: Moment | None
    overdue: bool


@with_config(FORBID)
class Stats(TypedDict):
    """The figures of the caller's jurisdiction subtree, computed from the stored events."""

    generated_at: Annotated[Moment, Field(description="The server's time of the figures.")]
    since: Annotated[Moment, Field(description="Start of the period (default: today's local midnight).")]
    timezone: Annotated[str, Field(description="IANA zone of 'today' and of the trend's hours.")]
    last_seq: Annotated[int, Field(description="The newest event the figures include.")]
    open: OpenNow
    incidents: Annotated[list[OpenIncident], Field(description="The newest open incidents, at most 2000.")]
    incidents_truncated: Annotated[bool, Field(description="More incidents are open than listed.")]
    period: PeriodFigures
    tiers: Annotated[list[TierFigures], Field(description="City, town, street.")]
    towns: Annotated[
        list[TownFigures],
        Field(description="The towns of the scope, then any other place with figures (the city's own last)."),
    ]
    trend: Annotated[list[TrendHour], Field(description="The 24 local hours up to now, oldest first.")]
