"""Events of tasks: assigned to a responder, then each transition of the task lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.events.base import DomainEvent


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
