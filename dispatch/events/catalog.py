"""Domain events: frozen, past-tense facts; each becomes one row of the event log."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[DomainEvent]] = {}
_PAYLOAD_FIELDS: dict[type[DomainEvent], tuple[str, ...]] = {}


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of all events. `seq` is given by the event log when the event is recorded."""

    type: ClassVar[str] = ""
    occurred_at: float
    """UTC epoch seconds."""
    actor: str
    causation_id: str | None = None
    incident_id: int | None = None
    task_id: int | None = None
    seq: int = 0

    def __init_subclass__(cls, type: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type:
            cls.type = type
            EVENT_TYPES[type] = cls

    def payload(self) -> dict[str, Any]:
        """The event's own fields (not the envelope), as the log stores them."""
        names = _PAYLOAD_FIELDS.get(type(self))
        if names is None:
            base = {"occurred_at", "actor", "causation_id", "incident_id", "task_id", "seq"}
            names = tuple(f.name for f in dataclasses.fields(self) if f.name not in base)
            _PAYLOAD_FIELDS[type(self)] = names
        return {name: getattr(self, name) for name in names}


# Alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlertReceived(DomainEvent, type="alert_received"):
    alert_id: int
    source: str
    source_event_id: str
    kind: str
    category: str
    severity: int
    new_incident: bool
    alert_count: int


@dataclass(frozen=True, kw_only=True)
class AlertUpdated(DomainEvent, type="alert_updated"):
    """The sender told more of one alert (a higher score, a new zone, a clip): rewritten in place."""

    alert_id: int
    source: str
    source_event_id: str
    changes: dict[str, Any]
    """What changed that a dispatcher cares about: field → [before, after]."""


@dataclass(frozen=True, kw_only=True)
class AlertStatusChanged(DomainEvent):
    alert_id: int
    source: str
    source_event_id: str
    reason: str | None = None
    active_alerts: int
    """Alerts of the incident still neither resolved nor cancelled."""


@dataclass(frozen=True, kw_only=True)
class AlertResolved(AlertStatusChanged, type="alert_resolved"):
    """The sender says its condition is over (an Alertmanager `resolved`, a sensor clearing)."""


@dataclass(frozen=True, kw_only=True)
class AlertCancelled(AlertStatusChanged, type="alert_cancelled"):
    """The sender withdrew its alert (a CAP Cancel): it was issued in error or is void."""


# Incidents ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IncidentReported(DomainEvent, type="incident_reported"):
    category: str
    severity: int
    title: str | None
    lat: float | None
    lon: float | None
    jurisdiction_id: str
    outside_area: bool
    owner_jurisdiction_id: str
    owner_tier: str
    departments: list[str]
    policy_name: str


@dataclass(frozen=True, kw_only=True)
class IncidentSeverityRaised(DomainEvent, type="incident_severity_raised"):
    from_severity: int
    to_severity: int


@dataclass(frozen=True, kw_only=True)
class IncidentNotified(DomainEvent, type="incident_notified"):
    """Severity I/II: every tier's center (and the prefecture link) told at once."""

    jurisdiction_ids: list[str]
    prefecture_id: str | None


@dataclass(frozen=True, kw_only=True)
class IncidentChanged(DomainEvent):
    """A transition of the incident lifecycle."""

    trigger: str
    from_state: str
    to_state: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentVerifying(IncidentChanged, type="incident_verifying"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentDispatched(IncidentChanged, type="incident_dispatched"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentAssigned(IncidentChanged, type="incident_assigned"):
    responder_id: str


@dataclass(frozen=True, kw_only=True)
class IncidentResponding(IncidentChanged, type="incident_responding"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentOnScene(IncidentChanged, type="incident_on_scene"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentResolved(IncidentChanged, type="incident_resolved"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentClosed(IncidentChanged, type="incident_closed"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentReopened(IncidentChanged, type="incident_reopened"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentCancelled(IncidentChanged, type="incident_cancelled"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentMerged(IncidentChanged, type="incident_merged"):
    into_incident_id: int


@dataclass(frozen=True, kw_only=True)
class IncidentReassigned(IncidentChanged, type="incident_reassigned"):
    """One task handed over: `task_id` (the envelope's) is cancelled, the new responder tasked."""

    from_responder_id: str
    to_responder_id: str


@dataclass(frozen=True, kw_only=True)
class IncidentDepartmentAdded(IncidentChanged, type="incident_department_added"):
    department: str
    departments: list[str]
    """The co-handling departments after the change, the lead one first."""


@dataclass(frozen=True, kw_only=True)
class IncidentDepartmentRemoved(IncidentChanged, type="incident_department_removed"):
    department: str
    departments: list[str]


@dataclass(frozen=True, kw_only=True)
class IncidentOwnerChanged(IncidentChanged):
    from_jurisdiction_id: str
    to_jurisdiction_id: str
    from_tier: str
    to_tier: str
    step_index: int


@dataclass(frozen=True, kw_only=True)
class IncidentEscalated(IncidentOwnerChanged, type="incident_escalated"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentDelegated(IncidentOwnerChanged, type="incident_delegated"):
    pass


@dataclass(frozen=True, kw_only=True)
class IncidentForwarded(DomainEvent, type="incident_forwarded"):
    """Sent over the prefecture link: the city tier asked the level above for help."""

    prefecture_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class IncidentUnanswered(DomainEvent, type="incident_unanswered"):
    """The last policy step passed with no acceptance: dispatchers must act by hand."""

    owner_jurisdiction_id: str
    step_index: int


# Tasks -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskAssigned(DomainEvent, type="task_assigned"):
    responder_id: str
    tier: str
    step_index: int
    distance_m: float | None
    accept_deadline_at: float | None
    category: str
    severity: int
    lat: float | None
    lon: float | None
    title: str | None


@dataclass(frozen=True, kw_only=True)
class TaskChanged(DomainEvent):
    responder_id: str
    trigger: str
    from_state: str
    to_state: str
    note: str | None = None
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskSent(TaskChanged, type="task_sent"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskDelivered(TaskChanged, type="task_delivered"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskAccepted(TaskChanged, type="task_accepted"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskDeclined(TaskChanged, type="task_declined"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskDeparted(TaskChanged, type="task_departed"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskArrived(TaskChanged, type="task_arrived"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskCompleted(TaskChanged, type="task_completed"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskExpired(TaskChanged, type="task_expired"):
    pass


@dataclass(frozen=True, kw_only=True)
class TaskCancelled(TaskChanged, type="task_cancelled"):
    pass


# People logging in (dispatch/access/accounts.py): the audit trail of who was at the screens -----------


@dataclass(frozen=True, kw_only=True)
class UserLoggedIn(DomainEvent, type="user_logged_in"):
    user: str
    role: str
    remote: str | None
    """The browser's address as the server saw it."""


@dataclass(frozen=True, kw_only=True)
class UserLoggedOut(DomainEvent, type="user_logged_out"):
    user: str
    role: str
    remote: str | None


@dataclass(frozen=True, kw_only=True)
class UserLoginFailed(DomainEvent, type="user_login_failed"):
    """A refused login. `user` is the name as typed (cut to 64 characters), known or not."""

    user: str
    reason: str
    """unknown_user, wrong_password, disabled or throttled."""
    failures: int
    """Wrong passwords in a row for this account (0 for an unknown name)."""
    locked_until: float | None
    """Set once failures reach the limit: no attempt is checked before then."""
    remote: str | None


# Responders: who could act, and in what state (the audit trail) -------------------------------


@dataclass(frozen=True, kw_only=True)
class ResponderStatusChanged(DomainEvent, type="responder_status_changed"):
    """A unit became busy (tasked), available (its task ended) or off duty (left the roster).

    Not an incident's event (the envelope's incident and task stay empty, so no timeline or
    socket carries it); `for_incident_id`/`for_task_id` name what caused it.
    """

    responder_id: str
    from_status: str
    to_status: str
    for_incident_id: int | None = None
    for_task_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TokenIssued(DomainEvent, type="token_issued"):
    """`dispatch token issue`; the actor is who ran it (`cli:` and the operating-system user)."""

    token: str
    """The token's id (the start of its hash, as `token list` shows it), never the token."""
    name: str
    role: str
    jurisdiction: str | None
    responder: str | None
    expires_at: float | None


@dataclass(frozen=True, kw_only=True)
class TokenRevoked(DomainEvent, type="token_revoked"):
    token: str
    name: str
    role: str


INCIDENT_EVENT_BY_TRIGGER: dict[str, type[IncidentChanged]] = {
    "verify": IncidentVerifying,
    "dispatch": IncidentDispatched,
    "assign": IncidentAssigned,
    "respond": IncidentResponding,
    "arrive": IncidentOnScene,
    "resolve": IncidentResolved,
    "close": IncidentClosed,
    "reopen": IncidentReopened,
    "cancel": IncidentCancelled,
    "merge": IncidentMerged,
    "escalate": IncidentEscalated,
    "delegate": IncidentDelegated,
    "reassign": IncidentReassigned,
    "add_department": IncidentDepartmentAdded,
    "remove_department": IncidentDepartmentRemoved,
}

TASK_EVENT_BY_TRIGGER: dict[str, type[TaskChanged]] = {
    "send": TaskSent,
    "deliver": TaskDelivered,
    "accept": TaskAccepted,
    "decline": TaskDeclined,
    "depart": TaskDeparted,
    "arrive": TaskArrived,
    "complete": TaskCompleted,
    "expire": TaskExpired,
    "cancel": TaskCancelled,
}
