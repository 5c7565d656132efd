"""Lifecycle definitions as data: the incident, task and department task machines, and their diagrams."""

from state_machines.department_task import (
    DEPARTMENT_TASK_TRANSITIONS,
    OPEN_DEPARTMENT_TASK_STATES,
    DepartmentTaskState,
    DepartmentTaskTrigger,
)
from state_machines.diagram import mermaid
from state_machines.incident import (
    INCIDENT_TRANSITIONS,
    NEW_INCIDENT_STATES,
    OPEN_INCIDENT_STATES,
    IncidentState,
    IncidentTrigger,
)
from state_machines.lifecycle import Lifecycle, Transition
from state_machines.responder import ResponderStatus
from state_machines.task import (
    ENDED_TASK_STATES,
    OPEN_TASK_STATES,
    TASK_TRANSITIONS,
    UNANSWERED_TASK_STATES,
    TaskState,
    TaskTrigger,
)

INCIDENT = Lifecycle("incident", IncidentState, IncidentState.REPORTED, INCIDENT_TRANSITIONS)
TASK = Lifecycle("task", TaskState, TaskState.PENDING, TASK_TRANSITIONS)
DEPARTMENT_TASK = Lifecycle(
    "department_task", DepartmentTaskState, DepartmentTaskState.SENT, DEPARTMENT_TASK_TRANSITIONS
)

__all__ = [
    "DEPARTMENT_TASK",
    "DEPARTMENT_TASK_TRANSITIONS",
    "ENDED_TASK_STATES",
    "INCIDENT",
    "INCIDENT_TRANSITIONS",
    "NEW_INCIDENT_STATES",
    "OPEN_DEPARTMENT_TASK_STATES",
    "OPEN_INCIDENT_STATES",
    "OPEN_TASK_STATES",
    "TASK",
    "TASK_TRANSITIONS",
    "UNANSWERED_TASK_STATES",
    "DepartmentTaskState",
    "DepartmentTaskTrigger",
    "IncidentState",
    "IncidentTrigger",
    "Lifecycle",
    "ResponderStatus",
    "TaskState",
    "TaskTrigger",
    "Transition",
    "mermaid",
]
