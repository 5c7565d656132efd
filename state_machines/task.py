"""The task lifecycle: one responder working on one incident."""

from __future__ import annotations

from enum import StrEnum

from state_machines.lifecycle import Transition


class TaskState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    DONE = "done"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class TaskTrigger(StrEnum):
    SEND = "send"
    DELIVER = "deliver"
    ACCEPT = "accept"
    DECLINE = "decline"
    DEPART = "depart"
    ARRIVE = "arrive"
    COMPLETE = "complete"
    EXPIRE = "expire"
    CANCEL = "cancel"


S = TaskState
T = TaskTrigger
UNANSWERED = (S.PENDING, S.SENT, S.DELIVERED)
WORKING = (S.ACCEPTED, S.EN_ROUTE, S.ON_SCENE)

UNANSWERED_TASK_STATES: frozenset[TaskState] = frozenset(UNANSWERED)
"""Asked but not yet accepted: a step deadline expires these."""
OPEN_TASK_STATES: frozenset[TaskState] = frozenset(UNANSWERED + WORKING)
"""The responder is asked or on it: busy, not asked again, cancelled when the incident ends."""
ENDED_TASK_STATES: frozenset[TaskState] = frozenset({S.DONE, S.DECLINED, S.EXPIRED, S.CANCELLED})
"""The responder is free again."""

TASK_TRANSITIONS: tuple[Transition, ...] = (
    Transition(T.SEND, (S.PENDING,), S.SENT),
    Transition(T.DELIVER, (S.PENDING, S.SENT), S.DELIVERED, prepare="note_channel"),
    Transition(T.ACCEPT, UNANSWERED, S.ACCEPTED, after="task_accepted"),
    Transition(T.DECLINE, UNANSWERED, S.DECLINED, after="task_declined"),
    Transition(T.DEPART, (S.ACCEPTED,), S.EN_ROUTE),
    Transition(T.ARRIVE, (S.ACCEPTED, S.EN_ROUTE), S.ON_SCENE, after="task_arrived"),
    Transition(T.COMPLETE, WORKING, S.DONE, after="task_completed"),
    Transition(T.EXPIRE, UNANSWERED, S.EXPIRED),
    Transition(T.CANCEL, UNANSWERED + WORKING, S.CANCELLED),
)

HAPPY_PATH: tuple[TaskState, ...] = (
    S.PENDING,
    S.SENT,
    S.DELIVERED,
    S.ACCEPTED,
    S.EN_ROUTE,
    S.ON_SCENE,
    S.DONE,
)
"""Order of progress: a trigger whose milestone lies behind the task is a harmless repeat."""
