"""The department task (协办) lifecycle: a co-handling department's part of an incident."""

from __future__ import annotations

from enum import StrEnum

from state_machines.lifecycle import Transition


class DepartmentTaskState(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DONE = "done"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class DepartmentTaskTrigger(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    COMPLETE = "complete"
    ESCALATE = "escalate"
    CANCEL = "cancel"


S = DepartmentTaskState
T = DepartmentTaskTrigger

OPEN_DEPARTMENT_TASK_STATES: frozenset[DepartmentTaskState] = frozenset({S.SENT, S.ACCEPTED})
"""The department's part is still to do: one per (incident, department), and it may block resolve."""

DEPARTMENT_TASK_TRANSITIONS: tuple[Transition, ...] = (
    Transition(T.ACCEPT, (S.SENT,), S.ACCEPTED),
    Transition(T.DECLINE, (S.SENT, S.ACCEPTED), S.DECLINED, prepare="plan_decline"),
    Transition(T.COMPLETE, (S.ACCEPTED,), S.DONE),
    # Not accepted in time: the city center is told; the task stays sent and may still be accepted.
    Transition(T.ESCALATE, (S.SENT,), None),
    Transition(T.CANCEL, (S.SENT, S.ACCEPTED), S.CANCELLED),
)
"""`decline` needs a reason; `cancel` is the server's (department removed, incident ended)."""
