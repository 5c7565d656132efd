"""Department tasks (协办) over REST: a sub-center's queue, and accept, decline, complete."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, with_config

from dispatch.access import authz
from dispatch.access.authz import DEPARTMENT_TASK_TRIGGERS, Action
from dispatch.shared.errors import InvalidInput
from dispatch.storage import department_tasks, queries
from dispatch.storage.department_tasks import DepartmentTaskQueue
from dispatch.storage.wire import FORBID, DepartmentTaskOut
from state_machines import DepartmentTaskState
from web.errors import json_response
from web.incidents import parse_int, read_body
from web.keys import RUNTIME
from web.openapi import PathParameter, identifier, operation
from web.query import Query, parse_query
from web.security import PRINCIPAL


class DepartmentTaskQuery(Query):
    state: DepartmentTaskState | None = Field(None, description="Only tasks in this state.")
    department: str | None = Field(
        None, description="Only this department's tasks (a department's dispatcher sees its own anyway)."
    )


class DepartmentTaskTriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str | None = Field(
        None,
        max_length=2000,
        description="decline: why the department will not take it (required); complete: what was done.",
    )


@with_config(FORBID)
class DepartmentTaskChanged(DepartmentTaskOut):
    """The department task after a trigger."""

    changed: Annotated[bool, Field(description="False when the trigger was a harmless repeat.")]
    triggers: Annotated[list[str], Field(description="The triggers the caller may send next.")]


@operation(
    "A sub-center's queue of department tasks",
    tag="department tasks",
    actions=[Action.READ_INCIDENTS],
    description=(
        "The co-handling departments' tasks (协办) of the incidents the caller sees, newest first: "
        "a department's dispatcher gets its own department's, a city dispatcher those in its subtree."
    ),
    query=DepartmentTaskQuery,
    responses={200: DepartmentTaskQueue},
    errors=[422],
)
async def list_department_tasks(request: web.Request) -> web.Response:
    principal = authz.require(request[PRINCIPAL], Action.READ_INCIDENTS)
    runtime = request.app[RUNTIME]
    query = parse_query(request, DepartmentTaskQuery)
    if query.department is not None and query.department not in runtime.config.department_by_id:
        raise InvalidInput(f"unknown department {query.department!r}", field="department")
    own = authz.department(principal)
    if own is not None and query.department not in (None, own):
        empty: DepartmentTaskQueue = {"department_tasks": []}  # another department's: never its to see
        return json_response(empty)
    scope = authz.scope(principal, runtime.config)
    states = (query.state.value,) if query.state is not None else ()
    department = own or query.department

    def read(connection: sa.Connection) -> DepartmentTaskQueue:
        visible = queries.in_scope(scope)
        return department_tasks.queue(connection, visible, states=states, department=department)

    return json_response(await runtime.read(read))


@operation(
    "Work a department task",
    tag="department tasks",
    actions=[Action.WORK_DEPARTMENT_TASK],
    service_decides=True,
    description=(
        "accept, decline (with a reason) or complete: the task's department's dispatcher, or a city "
        "dispatcher whose subtree holds the incident. 409 names the state and the triggers allowed now."
    ),
    path={
        "id": identifier("department task"),
        "trigger": PathParameter("The department's trigger.", values=lambda: DEPARTMENT_TASK_TRIGGERS),
    },
    body=DepartmentTaskTriggerBody,
    body_required=False,
    responses={200: DepartmentTaskChanged},
    errors=[404, 409, 422],
)
async def department_task_trigger(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]  # the service decides what it may do, as for every transport
    runtime = request.app[RUNTIME]
    trigger = request.match_info["trigger"]
    runtime.service.check_department_task_trigger(principal, trigger)
    task_id = parse_int(request.match_info["id"], "id")
    body: DepartmentTaskTriggerBody = await read_body(request, DepartmentTaskTriggerBody)
    outcome = await runtime.service.trigger_department_task(
        task_id, trigger, principal, reason=body.reason, causation_id=request.headers.get("X-Request-Id")
    )
    changed: DepartmentTaskChanged = {
        **department_tasks.department_task_json(outcome.row),
        "changed": outcome.changed,
        "triggers": outcome.triggers,
    }
    return json_response(changed)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/department-tasks", list_department_tasks)
    app.router.add_post("/api/v1/department-tasks/{id}/{trigger}", department_task_trigger)
