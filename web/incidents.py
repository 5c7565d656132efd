"""Dispatcher and responder REST: incidents, their triggers, task triggers, events, responders."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from dispatch.access import authz
from dispatch.access.auth import Principal
from dispatch.access.authz import DISPATCHER_TASK_TRIGGERS, INCIDENT_TRIGGERS, RESPONDER_TASK_TRIGGERS, Action
from dispatch.shared.errors import InvalidInput, NotFound
from dispatch.storage import queries, wire
from dispatch.storage.wire import IncidentList, Suggestions
from dispatch.views import instructions
from state_machines import INCIDENT, TaskTrigger
from web.alerts import read_json
from web.errors import json_response
from web.keys import RUNTIME
from web.openapi import PathParameter, identifier, operation
from web.query import MAX_ID, EventQuery, IncidentQuery, SuggestionQuery, parse_query
from web.schemas import EventList, IncidentChanged, IncidentDetail, ResponderList, TaskChanged
from web.security import PRINCIPAL


class IncidentTriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(
        None, max_length=2000, description="Why; lands in the timeline. resolve: the summary (required)."
    )
    responder_id: str | None = Field(None, description="assign, reassign: who gets the task.")
    into_incident_id: int | None = Field(None, description="merge: the incident that absorbs this one.")
    jurisdiction: str | None = Field(None, description="delegate: which child jurisdiction.")
    task_id: int | None = Field(None, description="reassign: the open task to take away.")
    department: str | None = Field(
        None, description="add_department, remove_department: a department id from config.yaml."
    )


class TaskTriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    note: str | None = Field(None, max_length=2000, description="Responder's note (result, reason).")


def _scope(request: web.Request, principal: Principal) -> list[str] | None:
    return authz.scope(principal, request.app[RUNTIME].config)


def parse_int(value: str, field: str) -> int:
    try:
        number = int(value)
    except ValueError as err:
        raise InvalidInput(f"{field} must be a whole number, not {value!r}", field=field) from err
    # Beyond the range of the id columns (32 bits on PostgreSQL) the database driver would fail.
    if not -MAX_ID <= number <= MAX_ID:
        raise InvalidInput(f"{field} is out of range: {value!r}", field=field)
    return number


@operation(
    "List incidents",
    tag="incidents",
    actions=[Action.READ_INCIDENTS],
    description="Newest first, within the caller's jurisdiction subtree.",
    query=IncidentQuery,
    responses={200: IncidentList},
    errors=[422],
)
async def list_incidents(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    query = parse_query(request, IncidentQuery)
    # Ids of the running config: checked here, as the model cannot know them.
    if query.jurisdiction is not None and query.jurisdiction not in runtime.config.jurisdiction_by_id:
        raise InvalidInput(f"unknown jurisdiction {query.jurisdiction!r}", field="jurisdiction")
    if query.category is not None and query.category not in runtime.config.category_by_id:
        raise InvalidInput(f"unknown category {query.category!r}", field="category")
    where = queries.IncidentFilter(
        states=query.states(),
        tier=query.tier.value if query.tier is not None else None,
        jurisdiction=query.jurisdiction,
        category=query.category,
        severity_at_most=query.severity,
        since=query.since.timestamp() if query.since is not None else None,
        until=query.until.timestamp() if query.until is not None else None,
        limit=query.limit,
        offset=query.offset,
    )
    scope, department = _scope(request, principal), authz.department(principal)
    body = await runtime.read(
        lambda connection: queries.list_incidents(connection, scope, where, runtime.config, department)
    )
    return json_response(body)


@operation(
    "One incident",
    tag="incidents",
    actions=[Action.READ_INCIDENTS],
    path={"id": identifier("incident")},
    responses={200: IncidentDetail},
    errors=[404, 422],
)
async def get_incident(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    incident_id = parse_int(request.match_info["id"], "id")
    scope, department = _scope(request, principal), authz.department(principal)
    found = await runtime.read(
        lambda connection: queries.incident_detail(connection, incident_id, scope, department)
    )
    if found is None:  # missing, or outside the caller's scope: alike
        raise NotFound(f"incident {incident_id} does not exist", field="id")
    mine = authz.incident_triggers(principal)
    county, orders = await runtime.read(
        lambda connection: (
            instructions.county_link(connection, incident_id),
            instructions.of_incident(connection, incident_id),
        )
    )
    body: IncidentDetail = {
        **found,
        "triggers": [each for each in INCIDENT.triggers_from(found["state"]) if each in mine],
        "county_link": county,
        "instructions": orders,
    }
    return json_response(body)


@operation(
    "Responders to suggest",
    tag="incidents",
    actions=[Action.READ_INCIDENTS],
    path={"id": identifier("incident")},
    query=SuggestionQuery,
    responses={200: Suggestions},
    errors=[404, 422],
)
async def incident_suggestions(request: web.Request) -> web.Response:
    """The nearest available responders for an incident, to assign or reassign by hand."""
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    incident_id = parse_int(request.match_info["id"], "id")
    limit = parse_query(request, SuggestionQuery).limit
    scope, department = _scope(request, principal), authz.department(principal)
    units = authz.responder_scope(principal, runtime.config)  # its own, and those mutual aid lends it
    body = await runtime.read(
        lambda connection: queries.suggestions(
            connection, runtime.config, incident_id, limit, scope, units, department
        )
    )
    if body is None:  # missing, or outside the caller's scope: alike
        raise NotFound(f"incident {incident_id} does not exist", field="id")
    return json_response(body)


async def read_body(request: web.Request, model: type[BaseModel]) -> Any:
    if not request.body_exists:  # read already (web/slow_clients.py), so not can_read_body
        return model()
    return model.model_validate(await read_json(request))  # errors: see web/errors.py


@operation(
    "Act on an incident",
    tag="incidents",
    actions=[Action.ACT_ON_INCIDENT],
    service_decides=True,
    description="A dispatcher's trigger; 409 names the state and the triggers allowed now.",
    path={
        "id": identifier("incident"),
        "trigger": PathParameter("The dispatcher's trigger.", values=lambda: INCIDENT_TRIGGERS),
    },
    body=IncidentTriggerBody,
    body_required=False,
    responses={200: IncidentChanged},
    errors=[404, 409],
)
async def incident_trigger(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]  # the service decides what it may do, as for every transport
    runtime = request.app[RUNTIME]
    trigger = request.match_info["trigger"]
    runtime.service.check_incident_trigger(principal, trigger)
    incident_id = parse_int(request.match_info["id"], "id")
    body: IncidentTriggerBody = await read_body(request, IncidentTriggerBody)
    params: dict[str, Any] = {}
    if body.responder_id is not None:
        params["responder_id"] = body.responder_id
    if body.into_incident_id is not None:
        params["into_incident_id"] = body.into_incident_id
    if body.jurisdiction is not None:
        params["jurisdiction"] = body.jurisdiction
    if body.task_id is not None:
        params["task_id"] = body.task_id
    if body.department is not None:
        params["department"] = body.department
    outcome = await runtime.service.trigger_incident(
        incident_id,
        trigger,
        principal,
        reason=body.reason,
        causation_id=request.headers.get("X-Request-Id"),
        params=params,
    )
    channels = await runtime.read(lambda connection: queries.alert_channels(connection, [incident_id]))
    changed: IncidentChanged = {
        **wire.incident_json(outcome.row, channels.get(incident_id)),
        "changed": outcome.changed,
        "triggers": outcome.triggers,
    }
    return json_response(changed)


@operation(
    "Act on a task",
    tag="tasks",
    actions=[Action.RESPOND_TO_TASK, Action.MANAGE_TASK],
    service_decides=True,
    description="A responder on its own tasks; a dispatcher may cancel. Repeats answer `changed: false`.",
    path={
        "id": identifier("task"),
        "trigger": PathParameter(
            "The responder's trigger, or cancel.",
            values=lambda: RESPONDER_TASK_TRIGGERS | DISPATCHER_TASK_TRIGGERS,
        ),
    },
    body=TaskTriggerBody,
    body_required=False,
    responses={200: TaskChanged},
    errors=[404, 409],
)
async def task_trigger(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]  # the service decides what it may do, as for every transport
    runtime = request.app[RUNTIME]
    task_id = parse_int(request.match_info["id"], "id")
    trigger = request.match_info["trigger"]
    runtime.service.check_task_trigger(principal, trigger)
    body: TaskTriggerBody = await read_body(request, TaskTriggerBody)
    outcome = await runtime.service.trigger_task(
        task_id,
        trigger,
        principal,
        note=body.note,
        channel="rest" if trigger == TaskTrigger.DELIVER else None,
        causation_id=request.headers.get("X-Request-Id"),
    )
    # The row, whether it changed, and the triggers the caller may send next.
    changed: TaskChanged = {
        **wire.task_json(outcome.row),
        "changed": outcome.changed,
        "triggers": outcome.triggers,
    }
    return json_response(changed)


@operation(
    "Read the event log",
    tag="events",
    actions=[Action.READ_EVENTS],
    description="In order, within the caller's jurisdiction subtree; resume with `after=last_seq`.",
    query=EventQuery,
    responses={200: EventList},
    errors=[422],
)
async def list_events(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    query = parse_query(request, EventQuery)
    after, limit = query.after, query.limit
    scope, department = _scope(request, principal), authz.department(principal)
    events = await runtime.read(
        lambda connection: queries.events_after(connection, after, limit, scope, department=department)
    )
    body: EventList = {"events": events, "last_seq": events[-1]["seq"] if events else after}
    return json_response(body)


@operation(
    "List responders",
    tag="responders",
    actions=[Action.READ_RESPONDERS],
    description="Units with their status and last position, within the caller's subtree.",
    responses={200: ResponderList},
)
async def list_responders(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    scope = _scope(request, principal)
    units = await runtime.read(lambda connection: queries.responders(connection, scope))
    await runtime.refresh()
    online = set(runtime.hub.online()) | runtime.devices.seen_lately()
    body: ResponderList = {"responders": [{**unit, "online": unit["id"] in online} for unit in units]}
    return json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/incidents", list_incidents)
    app.router.add_get("/api/v1/incidents/{id}", get_incident)
    app.router.add_get("/api/v1/incidents/{id}/suggestions", incident_suggestions)
    app.router.add_post("/api/v1/incidents/{id}/{trigger}", incident_trigger)
    app.router.add_post("/api/v1/tasks/{id}/{trigger}", task_trigger)
    app.router.add_get("/api/v1/events", list_events)
    app.router.add_get("/api/v1/responders", list_responders)
