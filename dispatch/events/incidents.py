"""Events of incidents: reported, graded, notified, and each transition of their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.events.base import DomainEvent


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
