"""Lifecycle definitions as data: the incident and task state machines, and their diagrams."""

from state_machines.diagram import mermaid
from state_machines.incident import INCIDENT_TRANSITIONS, IncidentState, IncidentTrigger
from state_machines.lifecycle import Lifecycle, Transition
from state_machines.task import TASK_TRANSITIONS, TaskState, TaskTrigger

INCIDENT = Lifecycle("incident", IncidentState, IncidentState.REPORTED, INCIDENT_TRANSITIONS)
TASK = Lifecycle("task", TaskState, TaskState.PENDING, TASK_TRANSITIONS)

__all__ = [
    "INCIDENT",
    "INCIDENT_TRANSITIONS",
    "TASK",
    "TASK_TRANSITIONS",
    "IncidentState",
    "IncidentTrigger",
    "Lifecycle",
    "TaskState",
    "TaskTrigger",
    "Transition",
    "mermaid",
]
