"""`GET /api/v1/tasks`: a responder's own tasks, with what the tablet shows on each card."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.authz import Action
from dispatch.storage import queries
from dispatch.views import tablet as tablet_view
from gateways.hotline import mask_numbers_in
from web.errors import json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.people_schemas import MyTasks
from web.security import PRINCIPAL


@operation(
    "My tasks",
    tag="tasks",
    actions=[Action.READ_OWN_TASKS],
    description=(
        "The caller's open tasks and those ended in the last day, newest first, each with its "
        "incident's category, grade, place in words and the dispatcher's note. `last_seq` is "
        "where the WebSocket resumes, so nothing that happens after this read is missed."
    ),
    responses={200: MyTasks},
)
async def my_tasks(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    responder_id = principal.responder_id or ""
    last_seq, tasks = await runtime.read(
        lambda connection: (
            # The committed head first: what commits after it is replayed on resume, never lost.
            queries.committed_seq(connection),
            tablet_view.tasks_of_responder(connection, runtime.config, responder_id, runtime.clock.now()),
        )
    )
    for task in tasks:
        if task["description"]:  # a caller may say a number: only masked ones reach a tablet
            task["description"] = mask_numbers_in(task["description"])
    body: MyTasks = {"last_seq": last_seq, "responder": responder_id, "tasks": tasks}
    return json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tasks", my_tasks)
