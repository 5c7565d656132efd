"""Authorization, in one place: which role may do what, on which jurisdiction subtree.

Every REST handler and every WebSocket message asks here. A resource outside the caller's
scope is reported as missing (404), never as forbidden, so ids of other towns stay private.
"""

from __future__ import annotations

from enum import StrEnum

from dispatch.auth import Principal, Role
from dispatch.config import Config, Tier
from dispatch.errors import Forbidden, NotFound


class Action(StrEnum):
    POST_ALERTS = "post_alerts"
    READ_INCIDENTS = "read_incidents"
    ACT_ON_INCIDENT = "act_on_incident"
    READ_EVENTS = "read_events"
    READ_RESPONDERS = "read_responders"
    RESPOND_TO_TASK = "respond_to_task"
    """accept, decline, depart, arrive, complete, receipts: a responder on its own tasks."""
    MANAGE_TASK = "manage_task"
    """cancel a task: a dispatcher within its subtree."""
    SUBSCRIBE = "subscribe"
    REPORT_POSITION = "report_position"
    READ_MAP = "read_map"
    """The jurisdiction polygons of the caller's scope."""
    READ_STATS = "read_stats"
    """The overview figures of the caller's scope (the big screen, the console's header)."""
    READ_OWN_TASKS = "read_own_tasks"
    """A responder's tasks with what it needs to find the place (the tablet app)."""
    READ_METRICS = "read_metrics"
    """The Prometheus metrics at /metrics: the whole server's figures, so admin only."""


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action) - {Action.RESPOND_TO_TASK, Action.REPORT_POSITION, Action.READ_OWN_TASKS},
    Role.DISPATCHER: frozenset(
        {
            Action.POST_ALERTS,
            Action.READ_INCIDENTS,
            Action.ACT_ON_INCIDENT,
            Action.READ_EVENTS,
            Action.READ_RESPONDERS,
            Action.MANAGE_TASK,
            Action.SUBSCRIBE,
            Action.READ_MAP,
            Action.READ_STATS,
        }
    ),
    Role.RESPONDER: frozenset(
        {
            Action.RESPOND_TO_TASK,
            Action.SUBSCRIBE,
            Action.REPORT_POSITION,
            Action.READ_MAP,
            Action.READ_OWN_TASKS,
        }
    ),
    Role.GATEWAY: frozenset({Action.POST_ALERTS}),
    Role.SCREEN: frozenset({Action.SUBSCRIBE, Action.READ_MAP, Action.READ_STATS}),
    Role.SYSTEM: frozenset(Action),
}


def require(principal: Principal, action: Action) -> Principal:
    """The principal, when its role may take `action` at all; Forbidden otherwise."""
    if action not in ROLE_ACTIONS[principal.role]:
        raise Forbidden(f"the {principal.role} role may not {action.value.replace('_', ' ')}")
    return principal


def may(principal: Principal, action: Action) -> bool:
    return action in ROLE_ACTIONS[principal.role]


def scope(principal: Principal, config: Config) -> list[str] | None:
    """Jurisdiction ids the principal sees (its subtree); None means every one."""
    if principal.role in (Role.ADMIN, Role.SYSTEM) or principal.jurisdiction_id is None:
        return None
    return [node.id for node in config.jurisdictions if config.is_within(node.id, principal.jurisdiction_id)]


def map_scope(principal: Principal, config: Config) -> list[str] | None:
    """Jurisdictions whose outlines the principal's map shows; None means every one.

    A responder sees its unit's town (the streets around it, for finding its way), a unit of
    the city tier the whole city; everyone else the scope above.
    """
    if principal.role == Role.RESPONDER:
        unit = config.responder_by_id.get(principal.responder_id or "")
        if unit is None:
            return []
        town = config.ancestor_at(unit.jurisdiction, Tier.TOWN)
        if town.parent is None:
            return None
        return [node.id for node in config.jurisdictions if config.is_within(node.id, town.id)]
    return scope(principal, config)


def sees_incident(principal: Principal, config: Config, jurisdiction_id: str, owner_id: str) -> bool:
    """Dispatchers see an incident located in, or owned by, their subtree."""
    if principal.role in (Role.ADMIN, Role.SYSTEM):
        return True
    if principal.role != Role.DISPATCHER:
        return False
    if principal.jurisdiction_id is None:
        return True
    return config.is_within(jurisdiction_id, principal.jurisdiction_id) or config.is_within(
        owner_id, principal.jurisdiction_id
    )


def check_incident(
    principal: Principal, config: Config, incident_id: int, jurisdiction_id: str, owner_id: str
) -> None:
    if not sees_incident(principal, config, jurisdiction_id, owner_id):
        raise NotFound(f"incident {incident_id} does not exist", field="id")


def check_task(
    principal: Principal,
    config: Config,
    task_id: int,
    responder_id: str,
    jurisdiction_id: str,
    owner_id: str,
) -> None:
    """A responder touches only its own tasks; a dispatcher those of incidents it sees."""
    if principal.role == Role.RESPONDER:
        if principal.responder_id != responder_id:
            raise NotFound(f"task {task_id} does not exist", field="id")
        return
    if not sees_incident(principal, config, jurisdiction_id, owner_id):
        raise NotFound(f"task {task_id} does not exist", field="id")
