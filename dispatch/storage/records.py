"""Typed records of the rows the core reads and writes: incidents, tasks, responders, alerts.

Plain slotted dataclasses mirroring the table columns (dispatch/storage/tables.py), built
straight from a result mapping. An incident's `policy` column is the snapshot of its policy
taken when it opened (STYLE 12): read into PolicySnapshot, written back as the same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import RowMapping

from dispatch.config.model import Policy, Tier


class AlertKind(StrEnum):
    """What sent an alert (the stored `alert.kind`)."""

    SENSOR = "sensor"
    VIDEO = "video"
    HOTLINE = "hotline"
    CAP = "cap"
    MONITORING = "monitoring"
    MANUAL = "manual"


@dataclass(slots=True)
class PolicyStep:
    """One rung of the ladder as the incident holds it."""

    tier: Tier
    accept_within: float
    responders: int
    department_only: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyStep:
        return cls(
            Tier(data["tier"]),
            float(data["accept_within"]),
            int(data["responders"]),
            bool(data["department_only"]),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "tier": self.tier.value,
            "accept_within": self.accept_within,
            "responders": self.responders,
            "department_only": self.department_only,
        }


@dataclass(slots=True)
class PolicySnapshot:
    """The policy an incident follows, as it was when the incident opened."""

    notify_all_tiers: bool
    notify_prefecture: bool
    auto_resolve: bool | None
    """None: a snapshot stored before policies had the flag (it is then absent from the JSON)."""
    steps: list[PolicyStep]
    department_accept_within: float | None = None
    """None: a snapshot stored before department tasks (the policy default applies)."""
    resolve_with_open_departments: bool | None = None
    """None: a snapshot stored before department tasks (false: resolve waits for them)."""

    @classmethod
    def of(cls, policy: Policy) -> PolicySnapshot:
        return cls.from_json(policy.model_dump(mode="json"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicySnapshot:
        auto_resolve = data.get("auto_resolve")
        accept_within = data.get("department_accept_within")
        with_open = data.get("resolve_with_open_departments")
        return cls(
            bool(data.get("notify_all_tiers", False)),
            bool(data.get("notify_prefecture", False)),
            None if auto_resolve is None else bool(auto_resolve),
            [PolicyStep.from_json(step) for step in data["steps"]],
            None if accept_within is None else float(accept_within),
            None if with_open is None else bool(with_open),
        )

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "notify_all_tiers": self.notify_all_tiers,
            "notify_prefecture": self.notify_prefecture,
        }
        if self.auto_resolve is not None:
            data["auto_resolve"] = self.auto_resolve
        if self.department_accept_within is not None:
            data["department_accept_within"] = self.department_accept_within
        if self.resolve_with_open_departments is not None:
            data["resolve_with_open_departments"] = self.resolve_with_open_departments
        data["steps"] = [step.as_json() for step in self.steps]
        return data

    def step_for(self, tier: Tier) -> int | None:
        """The index of the step the tier owns, if the ladder has one."""
        return next((index for index, step in enumerate(self.steps) if step.tier == tier), None)


@dataclass(slots=True)
class Incident:
    id: int
    category: str
    severity: int
    state: str
    title: str | None
    lat: float | None
    lon: float | None
    jurisdiction_id: str
    place: str
    outside_area: bool
    owner_jurisdiction_id: str
    owner_tier: str
    departments: list[str]
    alert_count: int
    first_alert_at: float
    last_alert_at: float
    policy_name: str
    policy: PolicySnapshot
    step_index: int
    step_deadline_at: float | None
    forwarded: bool
    merged_into: int | None
    summary: str | None
    milestones: dict[str, float]
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Incident:
        values = dict(row)
        values["policy"] = PolicySnapshot.from_json(values["policy"])
        return cls(**values)

    def as_row(self) -> dict[str, Any]:
        """The columns as the table stores them (and the JSON views read them)."""
        values = {name: getattr(self, name) for name in _INCIDENT_COLUMNS}
        values["policy"] = self.policy.as_json()
        return values

    @property
    def step(self) -> PolicyStep:
        """The policy step the incident is at."""
        return self.policy.steps[self.step_index]


@dataclass(slots=True)
class Task:
    id: int
    incident_id: int
    responder_id: str
    state: str
    tier: str
    step_index: int
    distance_m: float | None
    accept_deadline_at: float | None
    delivered_via: str | None
    milestones: dict[str, float]
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Task:
        return cls(**row)

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _TASK_COLUMNS}


@dataclass(slots=True)
class DepartmentTask:
    id: int
    incident_id: int
    department_id: str
    state: str
    reason: str | None
    accept_by: float | None
    escalated: bool
    milestones: dict[str, float]
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> DepartmentTask:
        return cls(**row)

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _DEPARTMENT_TASK_COLUMNS}


@dataclass(slots=True)
class Responder:
    id: str
    name: str
    jurisdiction_id: str
    department_id: str | None
    skills: list[str]
    status: str
    lat: float
    lon: float
    position_at: float | None
    updated_at: float

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Responder:
        return cls(**row)


@dataclass(slots=True)
class Alert:
    id: int
    source: str
    source_event_id: str
    key: str
    kind: str
    category: str
    severity: int
    lat: float | None
    lon: float | None
    jurisdiction_id: str
    observed_at: float
    received_at: float
    title: str | None
    description: str | None
    attributes: dict[str, Any]
    raw: str
    incident_id: int
    resolved_at: float | None
    cancelled_at: float | None

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Alert:
        return cls(**row)

    @property
    def ended(self) -> bool:
        """Resolved or withdrawn by its sender: no longer active."""
        return self.resolved_at is not None or self.cancelled_at is not None


_INCIDENT_COLUMNS = tuple(field.name for field in fields(Incident))
_TASK_COLUMNS = tuple(field.name for field in fields(Task))
_DEPARTMENT_TASK_COLUMNS = tuple(field.name for field in fields(DepartmentTask))

Record = Incident | Task | DepartmentTask | Responder | Alert
