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

TASK_TRANSITIONS: tuple[Transition, ...] = (
    Transition(T.SEND, (S.PENDING,), S.SENT),
    Transition(T.DELIVER, (S.PENDING, S.SENT), S.DELIVERED),
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
