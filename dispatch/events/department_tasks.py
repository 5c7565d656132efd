"""Events of department tasks (协办): a co-handling department's part, from sent to its end.

Every one names its incident, its department and the department task (`department_task_id`; the
envelope's `task_id` stays a responder's task), and carries what the duty desk needs to read it
alone (category, severity, place, title): the MQTT frame and the webhook are built from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.events.base import DomainEvent


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskChanged(DomainEvent):
    department_task_id: int
    department_id: str
    trigger: str
    from_state: str | None
    """None: the task was just sent."""
    to_state: str
    reason: str | None = None
    accept_by: float | None = None
    category: str
    severity: int
    jurisdiction_id: str
    lat: float | None
    lon: float | None
    title: str | None


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskSent(DepartmentTaskChanged, type="department_task_sent"):
    pass


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskAccepted(DepartmentTaskChanged, type="department_task_accepted"):
    pass


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskDeclined(DepartmentTaskChanged, type="department_task_declined"):
    pass


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskCompleted(DepartmentTaskChanged, type="department_task_completed"):
    pass


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskEscalated(DepartmentTaskChanged, type="department_task_escalated"):
    """Not accepted by `accept_by`: the city center's consoles get it as an alarm."""

    city_jurisdiction_id: str


@dataclass(frozen=True, kw_only=True)
class DepartmentTaskCancelled(DepartmentTaskChanged, type="department_task_cancelled"):
    pass


DEPARTMENT_TASK_EVENT_BY_TRIGGER: dict[str, type[DepartmentTaskChanged]] = {
    "send": DepartmentTaskSent,
    "accept": DepartmentTaskAccepted,
    "decline": DepartmentTaskDeclined,
    "complete": DepartmentTaskCompleted,
    "escalate": DepartmentTaskEscalated,
    "cancel": DepartmentTaskCancelled,
}
