"""The wire shapes of responses and query strings, as pydantic models, for the OpenAPI document.

Each response model mirrors a function of dispatch/storage/queries.py (or a handler's own JSON)
field for field; tests/web/test_schemas.py validates real responses against them with
unknown keys refused, so the document cannot drift from what the server sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.config.model import Tier
from dispatch.intake.alerts import AlertKind
from dispatch.shared.geo import Position
from dispatch.storage.queries import MAX_LIMIT
from state_machines import IncidentState, TaskState

Grade = Literal["I", "II", "III", "IV"]
ResponderStatus = Literal["available", "busy", "off_duty"]


class Wire(BaseModel):
    """A response shape: every key is always present (null when unknown) and none is extra."""

    model_config = ConfigDict(extra="forbid")


# Responses ------------------------------------------------------------------------------------


class Owner(Wire):
    jurisdiction: str = Field(description="The jurisdiction that owns the incident now.")
    tier: Tier = Field(description="Its tier.")


class PolicyStepOut(Wire):
    tier: Tier = Field(description="Tier that owns the incident during this step.")
    accept_within: float = Field(description="Seconds the step's responders have to accept.")
    responders: int = Field(description="How many responders get a task.")
    department_only: bool = Field(description="Only responders of the category's department qualify.")


class PolicySnapshot(Wire):
    """The escalation policy copied onto the incident when it opened, and where it stands."""

    name: str = Field(description="The policy's name in config.yaml.")
    step: int = Field(description="Index of the current step in `steps`.")
    notify_all_tiers: bool
    notify_prefecture: bool
    auto_resolve: bool = Field(False, description="Resolve by itself once every alert resolved.")
    steps: list[PolicyStepOut]


class IncidentOut(Wire):
    """An incident as lists show it."""

    id: int
    category: str = Field(description="A category of config.yaml.")
    severity: int = Field(ge=1, le=4, description="1 (I, most severe) … 4 (IV).")
    grade: Grade = Field(description="The severity as its official grade.")
    state: IncidentState
    title: str | None
    location: Position | None = Field(description="Where, when an alert gave a position.")
    jurisdiction: str = Field(description="The deepest jurisdiction holding the place.")
    outside_area: bool = Field(description="The place lies outside every jurisdiction polygon.")
    owner: Owner
    departments: list[str] = Field(description="Departments taking part.")
    alert_count: int
    channels: dict[str, int] = Field(
        description="How many of its alerts came by each channel (sensor, video, hotline, cap …)."
    )
    policy: PolicySnapshot
    deadline_at: datetime | None = Field(description="When the current step times out.")
    forwarded_to_prefecture: bool
    merged_into: int | None = Field(description="The incident that absorbed this one.")
    summary: str | None = Field(description="The resolution's reason.")
    milestones: dict[str, datetime] = Field(description="When each state was first reached.")
    first_alert_at: datetime
    last_alert_at: datetime
    created_at: datetime
    updated_at: datetime


class TaskOut(Wire):
    """A responder's task on an incident."""

    id: int
    incident_id: int
    responder_id: str
    state: TaskState
    tier: Tier = Field(description="The tier whose step gave the task.")
    step: int = Field(description="Index of that step in the incident's policy.")
    distance_m: float | None = Field(description="The responder's distance when assigned.")
    accept_deadline_at: datetime | None
    delivered_via: str | None = Field(description="The channel that delivered it (rest, ws, mqtt …).")
    milestones: dict[str, datetime] = Field(description="When each state was first reached.")
    created_at: datetime
    updated_at: datetime


class AlertOut(Wire):
    """An alert as stored, with the incident it joined."""

    id: int
    source: str
    source_event_id: str
    kind: AlertKind
    category: str
    severity: int = Field(ge=1, le=4)
    location: Position | None
    jurisdiction: str
    observed_at: datetime
    received_at: datetime
    title: str | None
    description: str | None
    attributes: dict[str, Any]
    incident_id: int


class EventOut(Wire):
    """One entry of the append-only event log."""

    seq: int = Field(description="Position in the log; consecutive.")
    type: str = Field(description="What happened, in the past tense: incident_escalated, task_accepted …")
    occurred_at: datetime
    actor: str = Field(description="Who or what caused it.")
    causation_id: str | None = Field(description="The request (X-Request-Id) or event that caused it.")
    incident_id: int | None
    task_id: int | None
    payload: dict[str, Any]


class IncidentDetail(IncidentOut):
    """An incident with its tasks, alerts and timeline."""

    tasks: list[TaskOut]
    alerts: list[AlertOut] = Field(description=f"The first {MAX_LIMIT} alerts, oldest first.")
    timeline: list[EventOut] = Field(description="Its newest events, oldest first.")
    timeline_truncated: bool = Field(description="Older events were left out of the timeline.")
    triggers: list[str] = Field(description="The dispatcher's triggers its state allows now.")


class IncidentChanged(IncidentOut):
    """The incident after a trigger."""

    changed: bool = Field(description="False when the trigger was a harmless repeat.")
    triggers: list[str] = Field(description="The triggers the caller may send next.")


class TaskChanged(TaskOut):
    """The task after a trigger."""

    changed: bool = Field(description="False when the trigger was a harmless repeat.")
    triggers: list[str] = Field(description="The triggers the caller may send next.")


class IncidentList(Wire):
    total: int = Field(description="How many match the filters, over all pages.")
    incidents: list[IncidentOut] = Field(description="Newest first.")


class EventList(Wire):
    events: list[EventOut] = Field(description="In sequence order.")
    last_seq: int = Field(description="Send it as `after` to read on; `after` itself when nothing is new.")


class ResponderOut(Wire):
    id: str
    name: str
    jurisdiction: str
    department: str | None
    skills: list[str]
    status: ResponderStatus
    position: Position = Field(description="The last reported position (home until one is reported).")
    position_at: datetime | None = Field(description="When the position was reported.")
    online: bool = Field(
        description=(
            "A tablet of the responder is connected to the WebSocket now, or sent an ack or a "
            "position over MQTT in the last 2 minutes."
        )
    )


class ResponderList(Wire):
    responders: list[ResponderOut]


class Origin(Wire):
    lat: float
    lon: float
    from_: Literal["incident", "owner_center"] = Field(
        alias="from", description="The incident's position, or its owner's center when it has none."
    )


class SuggestedResponder(Wire):
    id: str
    name: str
    jurisdiction: str
    department: str | None
    skills: list[str]
    distance_m: float = Field(description="From `origin` to where the responder was last seen.")
    qualified: bool = Field(description="Has every skill the category needs.")
    in_owner_jurisdiction: bool
    position: Position
    position_at: datetime | None


class Suggestions(Wire):
    """Available responders nearest the incident: qualified ones first, then by distance."""

    incident_id: int
    jurisdiction: str
    owner: Owner
    origin: Origin
    skills_needed: list[str]
    responders: list[SuggestedResponder]


class Received(Wire):
    """An alert's receipt, sent only once the alert is committed."""

    alert_id: int
    incident_id: int = Field(description="The incident the alert opened or joined.")
    duplicate: bool = Field(description="The same (source, source_event_id) was received before.")


class AlertResults(Wire):
    """A batch's receipts, in the order of the batch."""

    results: list[Received]


class ErrorDetail(Wire):
    code: str = Field(description="Stable machine-readable code: invalid, not_found, illegal_transition …")
    message: str = Field(description="What is wrong, for a person.")
    field: str | None = Field(description="The field at fault, as a dotted path.")
    state: str | None = Field(None, description="illegal_transition: the current state.")
    allowed: list[str] | None = Field(None, description="illegal_transition: the triggers allowed now.")


class ErrorBody(Wire):
    """Every 4xx (and 503) answer."""

    error: ErrorDetail


class Health(Wire):
    status: Literal["ok"]


class MqttStatus(Wire):
    """The MQTT link; a broker outage never makes the server unready (HTTP carries on)."""

    connected: bool = Field(description="Connected and subscribed to the broker now.")
    broker: str = Field(description="host:port of the broker.")
    sessions: dict[str, bool] = Field(
        description="Each session's client id (sensors, then tablets) and whether it is connected."
    )
    received: dict[str, int] = Field(description="Messages taken, by topic kind.")
    rejected: dict[str, int] = Field(description="Messages refused, by reason (each also logged).")
    failed: int = Field(description="Messages whose handling broke: left for the broker to offer again.")
    published: int = Field(description="Task messages the broker acknowledged.")
    outbox: int = Field(description="Task messages waiting for the broker.")
    outbox_dropped: int = Field(description="Task messages dropped from a full outbox (oldest first).")


class WebStatus(Wire):
    body_timed_out: int = Field(
        description="Requests answered 408: the body came slower than `web.body_timeout`."
    )
    abandoned: int = Field(description="Requests whose client hung up while sending the body.")


class Ready(Wire):
    status: Literal["ready"]
    database: Literal["ok"] = Field(description="The database answered just now.")
    next_deadline_at: float | None = Field(
        description="Epoch seconds of the next deadline the scheduler awaits."
    )
    mqtt: MqttStatus | None = Field(description="The MQTT link; null when MQTT is off (no `mqtt.url`).")
    web: WebStatus = Field(description="Slow and abandoned HTTP requests since start.")
