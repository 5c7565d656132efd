"""Authorization, in one place: which role may do what, on which jurisdiction subtree.

Writes are decided by the dispatch service, which every transport calls (REST, WebSocket,
MQTT acks), from the rules here: the role, the triggers it may send, and the scope of every
incident, task and unit an action touches. Reads ask `require` for the role and filter their
queries by `scope`. A resource outside the caller's scope is reported as missing (404), never
as forbidden, so ids of other towns stay private.

A dispatcher scoped to a department (`--department`, a sub-center such as 城管 or 防汛) sees
only the incidents whose `departments` list it — the department the category leads, first, and
those added as co-handlers — within its jurisdiction subtree if it has one too; every other
incident is missing to it, as another town's is. It sends none of the city's incident or task
triggers (403): it works its department's part, the department tasks (accept, decline with a
reason, complete), whose reasons and notes land on the incident's timeline. There is no free
note on an incident for it to add: what it has to say goes with its department task.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config, Tier
from dispatch.config.mutual_aid import lenders_to
from dispatch.shared.errors import Forbidden, IllegalTransition, NotFound
from state_machines import DepartmentTaskTrigger, IncidentTrigger, TaskTrigger


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
    READ_LINK = "read_link"
    """The links to other servers (prefecture, counties, department webhooks): are they up."""
    READ_METRICS = "read_metrics"
    """The Prometheus metrics at /metrics: the whole server's figures, so admin only."""
    WORK_DEPARTMENT_TASK = "work_department_task"
    """accept, decline, complete a department task (协办): its department's dispatcher, or the city's."""
    USE_LINK = "use_link"
    """Post over the prefecture link (a county's CAP up, instructions down, acknowledgements):
    a gateway token bound to the peer's CAP sender (dispatch/access/speaks_for.py)."""


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
            Action.WORK_DEPARTMENT_TASK,
            Action.READ_LINK,
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
    Role.GATEWAY: frozenset({Action.POST_ALERTS, Action.USE_LINK}),
    Role.SCREEN: frozenset({Action.SUBSCRIBE, Action.READ_MAP, Action.READ_STATS, Action.READ_LINK}),
    Role.SYSTEM: frozenset(Action),
}


INCIDENT_TRIGGERS = frozenset(
    {
        IncidentTrigger.VERIFY,
        IncidentTrigger.ASSIGN,
        IncidentTrigger.ESCALATE,
        IncidentTrigger.DELEGATE,
        IncidentTrigger.RESOLVE,
        IncidentTrigger.CLOSE,
        IncidentTrigger.REOPEN,
        IncidentTrigger.CANCEL,
        IncidentTrigger.MERGE,
        IncidentTrigger.REASSIGN,
        IncidentTrigger.ADD_DEPARTMENT,
        IncidentTrigger.REMOVE_DEPARTMENT,
    }
)
"""What ACT_ON_INCIDENT may send; the others (dispatch, respond, arrive) are the system's."""
RESPONDER_TASK_TRIGGERS = frozenset(
    {
        TaskTrigger.DELIVER,
        TaskTrigger.ACCEPT,
        TaskTrigger.DECLINE,
        TaskTrigger.DEPART,
        TaskTrigger.ARRIVE,
        TaskTrigger.COMPLETE,
    }
)
"""What RESPOND_TO_TASK may send, over any transport (a receipt is `deliver`)."""
DISPATCHER_TASK_TRIGGERS = frozenset({TaskTrigger.CANCEL})
"""What MANAGE_TASK may send."""


DEPARTMENT_DISPATCHER_ACTIONS = frozenset(
    {
        Action.READ_INCIDENTS,
        Action.READ_EVENTS,
        Action.READ_RESPONDERS,
        Action.SUBSCRIBE,
        Action.READ_MAP,
        Action.READ_STATS,
        Action.WORK_DEPARTMENT_TASK,
    }
)
"""A department's dispatcher: reads its department's incidents and works its department tasks."""
DEPARTMENT_TASK_TRIGGERS = frozenset(
    {DepartmentTaskTrigger.ACCEPT, DepartmentTaskTrigger.DECLINE, DepartmentTaskTrigger.COMPLETE}
)
"""What WORK_DEPARTMENT_TASK may send; escalate and cancel are the server's."""


def department(principal: Principal) -> str | None:
    """The department a dispatcher works for; None: the city's own desks (and every other role)."""
    return principal.department_id if principal.role == Role.DISPATCHER else None


def actions(principal: Principal) -> frozenset[Action]:
    if department(principal) is not None:
        return DEPARTMENT_DISPATCHER_ACTIONS
    return ROLE_ACTIONS[principal.role]


def require(principal: Principal, action: Action) -> Principal:
    """The principal, when its role may take `action` at all; Forbidden otherwise."""
    if action not in actions(principal):
        who = f"the {principal.role} role"
        if (found := department(principal)) is not None:
            who = f"a dispatcher of department {found!r}"
        raise Forbidden(f"{who} may not {action.value.replace('_', ' ')}")
    return principal


def may(principal: Principal, action: Action) -> bool:
    return action in actions(principal)


def incident_triggers(principal: Principal) -> frozenset[str]:
    """The incident triggers the principal may send (none: its role may not act on incidents)."""
    return INCIDENT_TRIGGERS if may(principal, Action.ACT_ON_INCIDENT) else frozenset()


def task_triggers(principal: Principal) -> frozenset[str]:
    """A responder's moves on its own tasks, or a dispatcher's cancel; none for other roles."""
    if may(principal, Action.RESPOND_TO_TASK):
        return RESPONDER_TASK_TRIGGERS
    if may(principal, Action.MANAGE_TASK):
        return DISPATCHER_TASK_TRIGGERS
    return frozenset()


def check_incident_trigger(principal: Principal, trigger: str) -> None:
    """Forbidden for a role that may not act on incidents; a trigger not its own is a 409."""
    require(principal, Action.ACT_ON_INCIDENT)
    if trigger not in INCIDENT_TRIGGERS:
        raise IllegalTransition(
            f"{trigger!r} is not a dispatcher's trigger", state="", allowed=sorted(INCIDENT_TRIGGERS)
        )


def check_department_task_trigger(principal: Principal, trigger: str) -> None:
    """Forbidden for a caller that may not work department tasks; a trigger not its own is a 409."""
    require(principal, Action.WORK_DEPARTMENT_TASK)
    if trigger not in DEPARTMENT_TASK_TRIGGERS:
        raise IllegalTransition(
            f"{trigger!r} is not a department task trigger",
            state="",
            allowed=sorted(DEPARTMENT_TASK_TRIGGERS),
        )


def check_task_trigger(principal: Principal, trigger: str) -> None:
    """Forbidden for a role that may not act on tasks; a trigger not its own is a 409."""
    allowed = task_triggers(principal)
    if not allowed:
        raise Forbidden(f"the {principal.role} role may not act on tasks")
    if trigger not in allowed:
        raise IllegalTransition(
            f"{trigger!r} is not a {principal.role}'s task trigger", state="", allowed=sorted(allowed)
        )


def scope(principal: Principal, config: Config) -> list[str] | None:
    """Jurisdiction ids the principal sees (its subtree); None means every one."""
    if principal.role in (Role.ADMIN, Role.SYSTEM) or principal.jurisdiction_id is None:
        return None
    return [node.id for node in config.jurisdictions if config.is_within(node.id, principal.jurisdiction_id)]


def responder_scope(principal: Principal, config: Config) -> list[str] | None:
    """Jurisdictions whose units the principal may task: its scope and what mutual aid lends it."""
    own = scope(principal, config)
    if own is None or principal.jurisdiction_id is None:
        return own
    lenders = lenders_to(config.mutual_aid, config.tree, principal.jurisdiction_id)
    lent = [
        node.id
        for node in config.jurisdictions
        if node.id not in own and any(config.is_within(node.id, lender) for lender in lenders)
    ]
    return own + lent


def may_task(principal: Principal, config: Config, responder_jurisdiction_id: str) -> bool:
    found = responder_scope(principal, config)
    return found is None or responder_jurisdiction_id in found


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


def covers_node(principal: Principal, config: Config, jurisdiction_id: str) -> bool:
    """The jurisdiction is in the principal's scope (an unknown id never is, unless all are)."""
    found = scope(principal, config)
    return found is None or jurisdiction_id in found


def covers(jurisdictions: Collection[str] | None, jurisdiction_id: str, owner_id: str) -> bool:
    """A scope covers an incident located in it or owned by it (None: every incident)."""
    return jurisdictions is None or jurisdiction_id in jurisdictions or owner_id in jurisdictions


def sees_incident(
    principal: Principal,
    config: Config,
    jurisdiction_id: str,
    owner_id: str,
    departments: Collection[str] | None = None,
) -> bool:
    """Dispatchers see an incident located in, or owned by, their subtree; a department's
    dispatcher only one its department leads or co-handles (`departments`; None: unknown, not seen)."""
    if principal.role not in (Role.ADMIN, Role.SYSTEM, Role.DISPATCHER):
        return False
    found = department(principal)
    if found is not None and (departments is None or found not in departments):
        return False
    return covers(scope(principal, config), jurisdiction_id, owner_id)


def check_department_task(
    principal: Principal, config: Config, task_id: int, department_id: str, incident: tuple[str, str]
) -> None:
    """A department's dispatcher works its own department's tasks only; the city's, those of
    incidents in its subtree. Anything else is reported as missing."""
    if not sees_incident(principal, config, *incident, departments=[department_id]):
        raise NotFound(f"department task {task_id} does not exist", field="id")


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


def check_touched_incident(
    principal: Principal, config: Config, incident_id: int, place: tuple[str, str] | None, field: str
) -> None:
    """An incident an action names besides its own (a merge's target): missing or hidden alike."""
    if place is None or not sees_incident(principal, config, *place):
        raise NotFound(f"incident {incident_id} does not exist", field=field)


def check_responder(
    principal: Principal, config: Config, responder_id: str, jurisdiction_id: str | None
) -> None:
    """A unit to task: in the caller's scope or lent to it by mutual aid; else as if missing."""
    if jurisdiction_id is None or not may_task(principal, config, jurisdiction_id):
        raise NotFound(f"responder {responder_id!r} does not exist", field="responder_id")
