"""The authorization matrix: every route and WebSocket message × every kind of caller.

The world: one incident in town west (its task is grid-west-n-1's) and one in town east.
Callers: admin, the city's dispatcher, the west dispatcher (in scope), the east dispatcher
(a town dispatcher of another town), grid-east-n-1 (a responder of another town), the west
incident's own responder grid-west-n-1, a gateway, nobody at all, the command hall's big
screen (read-only), and two sub-centers' dispatchers: flood control's (whose department leads
both incidents, waterlogging) and urban management's (which co-handles the east incident only,
with a department task there).

The expectations are data. A route the router serves without a row here fails the test: a new
endpoint is not done until its row says who may call it. A resource out of scope answers
exactly as one that does not exist, and so does anything else an action names (a merge's
target, a unit to task, a task to hand over) unless config `mutual_aid` lends it. A task
trigger gets the same answer over REST, the WebSocket and MQTT: the service alone decides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import websockets
import yaml
from aiohttp import ClientResponse

from dispatch.access.auth import issue_token
from dispatch.cli import main as cli
from dispatch.storage.tables import alert_table, event_table
from gateways.mqtt import translate_ack
from tests.conftest import Harness, ServerFactory
from tests.factories import EAST_N, WEST_N, alert, config_data, make_config

WAIT = 10.0  # a safety net against hangs, never a timing assertion
MISSING_ID = 999_999


@dataclass(frozen=True)
class Caller:
    role: str | None
    """None: no token at all."""
    name: str
    jurisdiction: str | None = None
    responder: str | None = None
    task_trigger: str = "cancel"
    """The task trigger this caller's role sends: a dispatcher may only cancel."""
    department: str | None = None


ADMIN = "admin"
CITY = "city dispatcher"
WEST = "west dispatcher"
EAST = "east dispatcher"
WEST_UNIT = "west responder"
EAST_UNIT = "east responder"
GATEWAY = "gateway"
NOBODY = "no token"
SCREEN = "big screen"
FLOOD_DESK = "flood sub-center"
URBAN_DESK = "urban sub-center"

CALLERS = {
    ADMIN: Caller("admin", "admin"),
    CITY: Caller("dispatcher", "city-desk", jurisdiction="city"),
    WEST: Caller("dispatcher", "west-desk", jurisdiction="west"),
    EAST: Caller("dispatcher", "east-desk", jurisdiction="east"),
    WEST_UNIT: Caller("responder", "grid-west-n-1", responder="grid-west-n-1", task_trigger="complete"),
    EAST_UNIT: Caller("responder", "grid-east-n-1", responder="grid-east-n-1", task_trigger="complete"),
    GATEWAY: Caller("gateway", "gauges"),
    NOBODY: Caller(None, "anonymous"),
    SCREEN: Caller("screen", "hall"),
    FLOOD_DESK: Caller("dispatcher", "flood-desk", department="flood"),
    URBAN_DESK: Caller("dispatcher", "urban-desk", department="urban"),
}


CITY_COLUMNS = [ADMIN, CITY, WEST, EAST, WEST_UNIT, EAST_UNIT, GATEWAY, NOBODY, SCREEN]
SUB_CENTER_COLUMNS = [FLOOD_DESK, URBAN_DESK]
"""The REST matrix gives the sub-centers' columns a table of their own (SUB_CENTERS), for width."""


def row(*answers: Any) -> dict[str, Any]:
    """One row of a matrix: every caller's answer in the order of CALLERS, or the city's callers' alone."""
    columns = CITY_COLUMNS if len(answers) == len(CITY_COLUMNS) else list(CALLERS)
    return dict(zip(columns, answers, strict=True))


def sub(*answers: Any) -> dict[str, Any]:
    """The sub-centers' answers to one route."""
    return dict(zip(SUB_CENTER_COLUMNS, answers, strict=True))


# REST -----------------------------------------------------------------------------------------

Route = tuple[str, str]


@dataclass(frozen=True)
class Request:
    """What each caller sends to a route: harmless, so the callers' order never matters."""

    path: str
    """Formatted with `incident`, `task` (the west ones), `department_task` (urban's, of the east
    incident) and the caller's `task_trigger`."""
    body: Any = None
    state: str | None = None
    """The resource's state when a 409 proves access was granted but the trigger is illegal now."""


CAP_TEST_MESSAGE = (
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>matrix-1</identifier>'
    b"<sender>matrix@example.cn</sender><sent>2026-07-01T08:00:00+08:00</sent><status>Test</status>"
    b"<msgType>Alert</msgType><scope>Public</scope></alert>"
)
ALERTMANAGER_RESOLVED_UNKNOWN = {
    "version": "4",
    "status": "resolved",
    "receiver": "matrix",
    "alerts": [
        {
            "status": "resolved",
            "labels": {"alertname": "Matrix"},
            "startsAt": "2026-07-01T08:00:00Z",
            "fingerprint": "0000000000000000",
        }
    ],
}

# The REST world: the west task is done (accepted, arrived, completed), so its incident is on_scene.
REQUESTS: dict[Route, Request] = {
    ("GET", "/healthz"): Request("/healthz"),
    ("GET", "/readyz"): Request("/readyz"),
    ("GET", "/api/openapi.json"): Request("/api/openapi.json"),
    ("GET", "/api/docs"): Request("/api/docs"),
    ("GET", "/api/docs/assets"): Request("/api/docs/assets/index.css"),
    # The very alert the west incident came from: a duplicate, so it changes nothing.
    ("POST", "/api/v1/alerts"): Request("/api/v1/alerts", alert("w1", location=WEST_N)),
    # A camera the test config does not map: understood, ignored, nothing written.
    ("POST", "/api/v1/alerts/frigate"): Request(
        "/api/v1/alerts/frigate",
        {
            "type": "update",
            "after": {"id": "1.0-a", "camera": "wharf", "label": "person", "start_time": 1_790_000_000.0},
        },
    ),
    # One call about the west incident's flood: the first joins it, the others are duplicates.
    ("POST", "/api/v1/hotline/calls"): Request(
        "/api/v1/hotline/calls",
        {
            "type": "entry",
            "call_id": "matrix-1",
            "caller_number": "13800000000",
            "location": WEST_N,
            "category": "waterlogging",
            "statement": "authorization matrix",
        },
    ),
    # A CAP Test message is acknowledged and ignored; a resolved alert never seen changes nothing.
    ("POST", "/api/v1/alerts/cap"): Request("/api/v1/alerts/cap", CAP_TEST_MESSAGE),
    ("POST", "/api/v1/alerts/alertmanager"): Request(
        "/api/v1/alerts/alertmanager", ALERTMANAGER_RESOLVED_UNKNOWN
    ),
    ("GET", "/api/v1/incidents"): Request("/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{id}"): Request("/api/v1/incidents/{incident}"),
    ("GET", "/api/v1/incidents/{id}/suggestions"): Request("/api/v1/incidents/{incident}/suggestions"),
    ("GET", "/api/v1/incidents/{id}/eido"): Request("/api/v1/incidents/{incident}/eido"),
    # verify is illegal from on_scene: a 409 proves the caller got through.
    ("POST", "/api/v1/incidents/{id}/{trigger}"): Request(
        "/api/v1/incidents/{incident}/verify", {"reason": "authorization matrix"}, state="on_scene"
    ),
    # A dispatcher's cancel is illegal on a done task; a responder's complete repeats harmlessly.
    ("POST", "/api/v1/tasks/{id}/{trigger}"): Request(
        "/api/v1/tasks/{task}/{task_trigger}", {"note": "authorization matrix"}, state="done"
    ),
    ("GET", "/api/v1/events"): Request("/api/v1/events"),
    ("GET", "/api/v1/responders"): Request("/api/v1/responders"),
    ("GET", "/api/v1/department-tasks"): Request("/api/v1/department-tasks"),
    # complete is illegal while the department task is only sent: a 409 proves access was granted.
    ("POST", "/api/v1/department-tasks/{id}/{trigger}"): Request(
        "/api/v1/department-tasks/{department_task}/complete",
        {"reason": "authorization matrix"},
        state="sent",
    ),
    ("GET", "/"): Request("/"),
    ("GET", "/console/"): Request("/console/"),
    ("GET", "/console/report"): Request("/console/report"),
    ("GET", "/tablet/"): Request("/tablet/"),
    ("GET", "/tablet/sw.js"): Request("/tablet/sw.js"),
    ("GET", "/tablet/manifest.webmanifest"): Request("/tablet/manifest.webmanifest"),
    ("GET", "/screen/"): Request("/screen/"),
    ("GET", "/ui/i18n/{language}.json"): Request("/ui/i18n/zh-CN.json"),
    ("GET", "/static"): Request("/static/common/base.css"),
    ("GET", "/static/vendor/leaflet"): Request("/static/vendor/leaflet/leaflet.css"),
    ("POST", "/api/v1/session"): Request("/api/v1/session", {"name": ""}),
    ("GET", "/api/v1/session"): Request("/api/v1/session"),
    ("DELETE", "/api/v1/session"): Request("/api/v1/session"),
    ("GET", "/api/v1/jurisdictions"): Request("/api/v1/jurisdictions"),
    ("GET", "/api/v1/tasks"): Request("/api/v1/tasks"),
    ("GET", "/api/v1/reports/incidents.csv"): Request(
        "/api/v1/reports/incidents.csv?since=2026-06-01T00:00:00Z"
    ),
    # The west incident's alert: the world's first alert and first incident, so both have id 1.
    ("GET", "/api/v1/alerts/{id}"): Request("/api/v1/alerts/{incident}"),
    ("GET", "/api/v1/stats"): Request("/api/v1/stats"),
    ("GET", "/api/v1/link"): Request("/api/v1/link"),
    ("GET", "/metrics"): Request("/metrics"),
    # The prefecture link: only a gateway token bound to the peer's CAP sender (none here) gets in.
    ("POST", "/api/v1/link/cap"): Request("/api/v1/link/cap", CAP_TEST_MESSAGE),
    ("POST", "/api/v1/link/instructions"): Request("/api/v1/link/instructions", {}),
    ("POST", "/api/v1/link/acknowledgements"): Request("/api/v1/link/acknowledgements", {}),
    # Empty text: refused once the incident is found in scope (the west one did not come from a county).
    ("POST", "/api/v1/incidents/{id}/instruct"): Request(
        "/api/v1/incidents/{incident}/instruct", {"text": " "}
    ),
    # Not an identifier: refused once the incident is found in scope.
    ("POST", "/api/v1/incidents/{id}/instructions/{identifier}/acknowledge"): Request(
        "/api/v1/incidents/{incident}/instructions/not%20one/acknowledge"
    ),
    ("GET", "/api/v1/instructions"): Request("/api/v1/instructions?open=true"),
}

# fmt: off
REST_MATRIX: dict[Route, dict[str, Any]] = {
    #                                                   admin city west east w-unit e-unit gateway none screen
    ("GET", "/healthz"):                           row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/readyz"):                            row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/api/openapi.json"):                  row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/api/docs"):                          row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/api/docs/assets"):                   row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("POST", "/api/v1/alerts"):                    row(202,  202, 202, 202, 403,   403,   202,    401, 403),
    ("POST", "/api/v1/alerts/cap"):                row(202,  202, 202, 202, 403,   403,   202,    401, 403),
    ("POST", "/api/v1/alerts/alertmanager"):       row(202,  202, 202, 202, 403,   403,   202,    401, 403),
    ("POST", "/api/v1/alerts/frigate"):            row(200,  200, 200, 200, 403,   403,   200,    401, 403),
    ("POST", "/api/v1/hotline/calls"):             row(202,  202, 202, 202, 403,   403,   202,    401, 403),
    ("GET", "/api/v1/incidents"):                  row(200,  200, 200, 200, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/incidents/{id}"):             row(200,  200, 200, 404, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/incidents/{id}/suggestions"): row(200,  200, 200, 404, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/incidents/{id}/eido"):        row(200,  200, 200, 404, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/incidents/{id}/{trigger}"):  row(409,  409, 409, 404, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/tasks/{id}/{trigger}"):      row(409,  409, 409, 404, 200,   404,   403,    401, 403),
    # The people's side: pages and their files are open; what they read is scoped.
    ("GET", "/"):                                  row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/console/"):                          row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/console/report"):                    row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/tablet/"):                           row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/tablet/sw.js"):                      row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/tablet/manifest.webmanifest"):       row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/screen/"):                           row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/ui/i18n/{language}.json"):           row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/static"):                            row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    ("GET", "/static/vendor/leaflet"):             row(200,  200, 200, 200, 200,   200,   200,    200, 200),
    # A login with a bad body is refused alike for everyone; a token is not a session to end.
    ("POST", "/api/v1/session"):                   row(422,  422, 422, 422, 422,   422,   422,    422, 422),
    ("GET", "/api/v1/session"):                    row(200,  200, 200, 200, 200,   200,   200,    401, 200),
    ("DELETE", "/api/v1/session"):                 row(401,  401, 401, 401, 401,   401,   401,    401, 401),
    ("GET", "/api/v1/jurisdictions"):              row(200,  200, 200, 200, 200,   200,   403,    401, 200),
    ("GET", "/api/v1/tasks"):                      row(403,  403, 403, 403, 200,   200,   403,    401, 403),
    ("GET", "/api/v1/reports/incidents.csv"):      row(200,  200, 200, 200, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/alerts/{id}"):                row(200,  200, 200, 404, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/stats"):                      row(200,  200, 200, 200, 403,   403,   403,    401, 200),
    ("GET", "/api/v1/link"):                       row(200,  200, 200, 200, 403,   403,   403,    401, 200),
    ("GET", "/api/v1/events"):                     row(200,  200, 200, 200, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/responders"):                 row(200,  200, 200, 200, 403,   403,   403,    401, 403),
    # A sub-center's queue; a department task is worked by its department, or the city's desks.
    ("GET", "/api/v1/department-tasks"):           row(200,  200, 200, 200, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/department-tasks/{id}/{trigger}"):
                                                   row(409,  409, 404, 409, 403,   403,   403,    401, 403),
    # The whole server's figures (read_metrics): admin only; metrics.listen serves them apart.
    ("GET", "/metrics"):                           row(200,  403, 403, 403, 403,   403,   403,    401, 403),
    # The prefecture link (use_link: gateway and admin roles, and only with a token bound to the peer).
    ("POST", "/api/v1/link/cap"):                  row(403,  403, 403, 403, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/link/instructions"):         row(403,  403, 403, 403, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/link/acknowledgements"):     row(403,  403, 403, 403, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/incidents/{id}/instruct"):   row(422,  422, 422, 404, 403,   403,   403,    401, 403),
    ("POST", "/api/v1/incidents/{id}/instructions/{identifier}/acknowledge"):
                                                   row(422,  422, 422, 404, 403,   403,   403,    401, 403),
    ("GET", "/api/v1/instructions"):               row(200,  200, 200, 200, 403,   403,   403,    401, 403),
}
# The sub-centers' dispatchers: flood control leads both incidents (waterlogging); urban
# management sees neither the west incident nor its alert, and works its own department task only.
SUB_CENTERS: dict[Route, dict[str, Any]] = {
    #                                                   flood urban
    ("GET", "/healthz"):                           sub(200,   200),
    ("GET", "/readyz"):                            sub(200,   200),
    ("GET", "/api/openapi.json"):                  sub(200,   200),
    ("GET", "/api/docs"):                          sub(200,   200),
    ("GET", "/api/docs/assets"):                   sub(200,   200),
    ("POST", "/api/v1/alerts"):                    sub(403,   403),
    ("POST", "/api/v1/alerts/cap"):                sub(403,   403),
    ("POST", "/api/v1/alerts/alertmanager"):       sub(403,   403),
    ("POST", "/api/v1/alerts/frigate"):            sub(403,   403),
    ("POST", "/api/v1/hotline/calls"):             sub(403,   403),
    ("GET", "/api/v1/incidents"):                  sub(200,   200),
    ("GET", "/api/v1/incidents/{id}"):             sub(200,   404),
    ("GET", "/api/v1/incidents/{id}/suggestions"): sub(200,   404),
    ("GET", "/api/v1/incidents/{id}/eido"):        sub(200,   404),
    ("POST", "/api/v1/incidents/{id}/{trigger}"):  sub(403,   403),
    ("POST", "/api/v1/tasks/{id}/{trigger}"):      sub(403,   403),
    ("GET", "/"):                                  sub(200,   200),
    ("GET", "/console/"):                          sub(200,   200),
    ("GET", "/console/report"):                    sub(200,   200),
    ("GET", "/tablet/"):                           sub(200,   200),
    ("GET", "/tablet/sw.js"):                      sub(200,   200),
    ("GET", "/tablet/manifest.webmanifest"):       sub(200,   200),
    ("GET", "/screen/"):                           sub(200,   200),
    ("GET", "/ui/i18n/{language}.json"):           sub(200,   200),
    ("GET", "/static"):                            sub(200,   200),
    ("GET", "/static/vendor/leaflet"):             sub(200,   200),
    ("POST", "/api/v1/session"):                   sub(422,   422),
    ("GET", "/api/v1/session"):                    sub(200,   200),
    ("DELETE", "/api/v1/session"):                 sub(401,   401),
    ("GET", "/api/v1/jurisdictions"):              sub(200,   200),
    ("GET", "/api/v1/tasks"):                      sub(403,   403),
    ("GET", "/api/v1/reports/incidents.csv"):      sub(200,   200),
    ("GET", "/api/v1/alerts/{id}"):                sub(200,   404),
    ("GET", "/api/v1/stats"):                      sub(200,   200),
    ("GET", "/api/v1/events"):                     sub(200,   200),
    ("GET", "/api/v1/responders"):                 sub(200,   200),
    ("GET", "/api/v1/department-tasks"):           sub(200,   200),
    ("POST", "/api/v1/department-tasks/{id}/{trigger}"):
                                                   sub(404,   409),
    ("GET", "/metrics"):                           sub(403,   403),
    # The prefecture link is the command center's: a desk reads the instructions of its incidents.
    ("GET", "/api/v1/link"):                       sub(403,   403),
    ("POST", "/api/v1/link/cap"):                  sub(403,   403),
    ("POST", "/api/v1/link/instructions"):         sub(403,   403),
    ("POST", "/api/v1/link/acknowledgements"):     sub(403,   403),
    ("POST", "/api/v1/incidents/{id}/instruct"):   sub(403,   403),
    ("POST", "/api/v1/incidents/{id}/instructions/{identifier}/acknowledge"):
                                                   sub(403,   403),
    ("GET", "/api/v1/instructions"):               sub(200,   200),
}
# fmt: on
for _route, _answers in SUB_CENTERS.items():
    REST_MATRIX[_route] |= _answers

# /ws authenticates itself (browsers cannot set headers on a socket): its matrix is below.
WEBSOCKET_ROUTE: Route = ("GET", "/ws")

ERROR_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "illegal_transition",
    422: "invalid",
}

HIDDEN = [
    (route, caller)
    for route, answers in REST_MATRIX.items()
    for caller, status in answers.items()
    if status == 404
]


@dataclass(frozen=True)
class Towns:
    incident: int
    """The west incident."""
    task: int
    """Its task, grid-west-n-1's."""
    east_incident: int
    department_task: int
    """Urban management's part of the east incident (which flood control leads)."""

    def names(self) -> dict[int, str]:
        return {self.incident: "west", self.east_incident: "east"}


@pytest.fixture
async def towns(server: Harness) -> Towns:
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    east = (await server.post_alert(alert("e1", source="gauge-east", location=EAST_N)))["incident_id"]
    incident = await server.incident(west)
    assert incident["state"] == "dispatched"
    [task] = incident["tasks"]
    assert task["responder_id"] == "grid-west-n-1"
    await server.incident_trigger(east, "add_department", {"department": "urban"})
    [department_task] = (await server.incident(east))["department_tasks"]
    return Towns(west, task["id"], east, department_task["id"])


@pytest.fixture
async def done_task(server: Harness, towns: Towns) -> Towns:
    """The west task walked to done by its responder: nothing the matrix sends can change it."""
    for trigger in ("accept", "arrive", "complete"):
        await server.task_trigger(towns.task, trigger, "grid-west-n-1")
    assert (await server.incident(towns.incident))["state"] == "on_scene"
    return towns


def _token(server: Harness, caller: Caller) -> str | None:
    if caller.role is None:
        return None
    return server.token(
        caller.role,
        caller.name,
        jurisdiction=caller.jurisdiction,
        responder=caller.responder,
        department=caller.department,
    )


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _send(
    server: Harness, route: Route, caller: Caller, incident: int, task: int, department_task: int
) -> ClientResponse:
    request = REQUESTS[route]
    path = request.path.format(
        incident=incident, task=task, department_task=department_task, task_trigger=caller.task_trigger
    )
    headers = _bearer(_token(server, caller))
    if isinstance(request.body, bytes):  # an XML message (CAP)
        headers["Content-Type"] = "application/xml"
        return await server.client.request(route[0], path, data=request.body, headers=headers)
    return await server.client.request(route[0], path, json=request.body, headers=headers)


async def _refusal(response: ClientResponse) -> str:
    """The error code, and for a 409 the state it was refused in (none: refused for the role)."""
    error = (await response.json())["error"]
    state = f" in {error['state'] or 'no state'}" if response.status == 409 else ""
    return f"{error['code']}{state}"


def _expected_refusal(status: int, request: Request) -> str:
    state = f" in {request.state}" if status == 409 else ""
    return f"{ERROR_CODES[status]}{state}"


async def test_authz_matrix_has_a_row_for_every_route(server: Harness) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in server.client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }

    unexpected = served - set(REST_MATRIX) - {WEBSOCKET_ROUTE}
    assert not unexpected, f"unexpected route: give it a row in REST_MATRIX: {sorted(unexpected)}"
    assert not set(REST_MATRIX) - served, "a row for a route the router no longer serves"
    assert set(REQUESTS) == set(REST_MATRIX)


@pytest.mark.parametrize("route", list(REST_MATRIX), ids=" ".join)
async def test_authz_matrix_route_answers_each_caller(
    server: Harness, done_task: Towns, route: Route
) -> None:
    statuses: dict[str, int] = {}
    refusals: dict[str, str] = {}
    for name, caller in CALLERS.items():
        response = await _send(
            server, route, caller, done_task.incident, done_task.task, done_task.department_task
        )
        statuses[name] = response.status
        refusals[name] = await _refusal(response) if response.status >= 400 else ""

    assert statuses == REST_MATRIX[route]
    request = REQUESTS[route]
    assert refusals == {
        name: _expected_refusal(status, request) if status >= 400 else ""
        for name, status in REST_MATRIX[route].items()
    }


@pytest.mark.parametrize(("route", "caller"), HIDDEN, ids=[f"{' '.join(r)}-{c}" for r, c in HIDDEN])
async def test_authz_matrix_out_of_scope_answers_like_missing(
    server: Harness, done_task: Towns, route: Route, caller: str
) -> None:
    who = CALLERS[caller]

    hidden = await _send(server, route, who, done_task.incident, done_task.task, done_task.department_task)
    missing = await _send(server, route, who, MISSING_ID, MISSING_ID, MISSING_ID)

    assert (hidden.status, missing.status) == (404, 404)
    hidden_error = (await hidden.json())["error"]
    missing_error = (await missing.json())["error"]
    for real in (done_task.incident, done_task.task, done_task.department_task):
        hidden_error["message"] = hidden_error["message"].replace(f" {real} ", " N ")
    missing_error["message"] = missing_error["message"].replace(f" {MISSING_ID} ", " N ")
    assert hidden_error == missing_error


# WebSocket ------------------------------------------------------------------------------------

Message = Callable[[Towns, str], dict[str, Any]]


@dataclass(frozen=True)
class Sent:
    message: Message
    """Built from the towns and the caller's token."""
    by_header: bool = True
    """Sent on a socket the Authorization header authenticated; False: a socket opened without one."""


# `auth` is a browser's first message on a socket opened without a header; everything else
# goes over a socket that the caller's Authorization header authenticated.
MESSAGES: dict[str, Sent] = {
    "auth": Sent(lambda towns, token: {"type": "auth", "token": token}, by_header=False),
    "resume": Sent(lambda towns, token: {"type": "resume", "after": 0}),
    "receipt": Sent(lambda towns, token: {"type": "receipt", "task_id": towns.task, "id": "receipt-1"}),
    "trigger": Sent(
        lambda towns, token: {
            "type": "trigger",
            "id": "trigger-1",
            "task_id": towns.task,
            "trigger": "accept",
        }
    ),
    "position": Sent(lambda towns, token: {"type": "position", **WEST_N}),
    "ping": Sent(lambda towns, token: {"type": "ping"}),
}

# A type the server does not know: its unknown_type error marks the end of the answers to the
# message before it (every message the matrix sends is of a known type).
FENCE = {"type": "fence"}
UNKNOWN_TOKEN = "dsp_nobody_has_this_token"

# "nothing": the message was taken silently (a position needs no answer).
# "resumed: …": the towns whose incidents' events the replay after 0 carried.
# fmt: off
WS_MATRIX: dict[str, dict[str, Any]] = {
    "auth": row(
        "hello", "hello", "hello", "hello", "hello", "hello", "closed 4403", "closed 4401", "hello",
        "hello", "hello",
    ),
    "resume": row(
        "resumed: east, west", "resumed: east, west", "resumed: west", "resumed: east",
        "resumed: west", "resumed: east", "closed 4403", "closed 4401", "resumed: east, west",
        "resumed: east, west", "resumed: east",
    ),
    # A receipt is `deliver`: not a trigger of a dispatcher's (it may cancel), as over REST.
    "receipt": row(
        "result illegal_transition", "result illegal_transition", "result illegal_transition",
        "result illegal_transition", "ok", "result not_found", "closed 4403", "closed 4401",
        "result forbidden", "result forbidden", "result forbidden",
    ),
    "trigger": row(
        "result illegal_transition", "result illegal_transition", "result illegal_transition",
        "result illegal_transition", "ok", "result not_found", "closed 4403", "closed 4401",
        "result forbidden", "result forbidden", "result forbidden",
    ),
    "position": row(
        "error forbidden", "error forbidden", "error forbidden", "error forbidden",
        "nothing", "nothing", "closed 4403", "closed 4401", "error forbidden", "error forbidden",
        "error forbidden",
    ),
    "ping": row(
        "pong", "pong", "pong", "pong", "pong", "pong", "closed 4403", "closed 4401", "pong", "pong", "pong",
    ),
}
# fmt: on


def _url(server: Harness) -> str:
    return str(server.client.make_url("/ws")).replace("http://", "ws://")


async def _frame(ws: websockets.ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
    return frame


async def _answers(ws: websockets.ClientConnection, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every frame the message caused: the session handles a socket's messages in order."""
    await ws.send(orjson.dumps(message).decode())
    await ws.send(orjson.dumps(FENCE).decode())
    frames: list[dict[str, Any]] = []
    while (frame := await _frame(ws)).get("code") != "unknown_type":
        frames.append(frame)
    return frames


def _summary(frames: list[dict[str, Any]], towns: Towns) -> str:
    """The answers to one message, in words; event frames only count towards a replay."""
    names = towns.names()
    replayed = sorted({names.get(f["event"]["incident_id"], "other") for f in frames if f["type"] == "event"})
    describe: dict[str, Callable[[dict[str, Any]], str]] = {
        "hello": lambda frame: "hello",
        "pong": lambda frame: "pong",
        "result": lambda frame: "ok" if frame["ok"] else f"result {frame['error']['code']}",
        "error": lambda frame: f"error {frame['code']}",
        "resumed": lambda frame: f"resumed: {', '.join(replayed) or 'nothing'}",
    }
    answers = [describe[f["type"]](f) for f in frames if f["type"] in describe]
    return ", ".join(answers) or "nothing"


async def _ws_outcome(server: Harness, towns: Towns, caller: Caller, message_type: str) -> str:
    sent = MESSAGES[message_type]
    token = _token(server, caller)
    headers = _bearer(token) if sent.by_header else {}
    try:
        async with websockets.connect(_url(server), additional_headers=headers) as ws:
            if headers:
                assert (await _frame(ws))["type"] == "hello"
            frames = await _answers(ws, sent.message(towns, token or UNKNOWN_TOKEN))
    except websockets.ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else 'without a close frame'}"
    return _summary(frames, towns)


@pytest.mark.parametrize("message_type", list(WS_MATRIX))
async def test_authz_matrix_websocket_message_answers_each_caller(
    server: Harness, towns: Towns, message_type: str
) -> None:
    outcomes = {
        name: await _ws_outcome(server, towns, caller, message_type) for name, caller in CALLERS.items()
    }

    assert outcomes == WS_MATRIX[message_type]
    assert set(MESSAGES) == set(WS_MATRIX)


# Whom a gateway speaks for (dispatch/access/speaks_for.py) ------------------------------------------

PUMP_ALERTMANAGER = {
    "version": "4",
    "status": "firing",
    "receiver": "pumps",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "PumpDown", "category": "waterlogging", "jurisdiction": "west"},
            "startsAt": "2026-07-01T08:00:00Z",
            "fingerprint": "0000000000000001",
        }
    ],
}
SENT = "2026-07-01T08:00:00+08:00"


def _cap_cancel(sender: str, identifier: str, *references: str) -> bytes:
    return (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>{identifier}</identifier><sender>{sender}</sender><sent>{SENT}</sent>"
        f"<status>Actual</status><msgType>Cancel</msgType><scope>Public</scope>"
        f"<references>{' '.join(references)}</references></alert>"
    ).encode()


def _bound_token(
    server: Harness, name: str, *, sources: tuple[str, ...] = (), cap_senders: tuple[str, ...] = ()
) -> str:
    return issue_token(
        server.runtime.write_engine,
        server.config,
        role="gateway",
        name=name,
        sources=sources,
        cap_senders=cap_senders,
        now=time.time(),
    )


async def _stored(server: Harness) -> dict[str, int]:
    def read(connection: sa.Connection) -> dict[str, int]:
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (alert_table, event_table)
        }

    return await server.runtime.read(read)


async def _post_as(server: Harness, token: str, path: str, body: Any) -> ClientResponse:
    headers = _bearer(token)
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/xml"
        return await server.client.post(path, data=body, headers=headers)
    return await server.client.post(path, json=body, headers=headers)


# (path, body, the field and the source named in the 403)
OUTSIDE_THE_BINDING: dict[str, tuple[str, Any, str, str]] = {
    "alert": ("/api/v1/alerts", alert("p1", source="pump-3"), "source", "pump-3"),
    "batch": (
        "/api/v1/alerts",
        {"alerts": [alert("g1", source="gauge-7"), alert("p1", source="pump-3")]},
        "alerts.1.source",
        "pump-3",
    ),
    "hotline": (
        "/api/v1/hotline/calls",
        {"type": "entry", "call_id": "c-1", "caller_number": "13800000000", "location": WEST_N,
         "category": "waterlogging", "statement": "a bound gateway"},
        "line",
        "hotline-12345",
    ),
    "frigate": (
        "/api/v1/alerts/frigate",
        {"type": "new",
         "after": {"id": "1.0-a", "camera": "wharf", "label": "person", "start_time": 1_790_000_000.0}},
        "after.camera",
        "frigate:wharf",
    ),
    "alertmanager": ("/api/v1/alerts/alertmanager", PUMP_ALERTMANAGER, "receiver", "pumps"),
    "cap": (
        "/api/v1/alerts/cap",
        _cap_cancel("met@example.cn", "m-2", f"met@example.cn,m-1,{SENT}"),
        "sender",
        "met@example.cn",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OUTSIDE_THE_BINDING))
async def test_authz_bound_gateway_outside_its_binding_is_403_and_stores_nothing(
    server: Harness, case: str
) -> None:
    path, body, field, source = OUTSIDE_THE_BINDING[case]
    token = _bound_token(server, "gauges", sources=("gauge-*",), cap_senders=("ops@city.example",))

    response = await _post_as(server, token, path, body)

    assert response.status == 403, await response.text()
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("forbidden", field)
    assert repr(source) in error["message"]
    assert await _stored(server) == {"alert": 0, "event": 0}


async def test_authz_bound_gateway_posts_for_what_it_speaks_for(server: Harness) -> None:
    token = _bound_token(server, "gauges", sources=("gauge-*",), cap_senders=("ops@city.example",))

    gauge = await _post_as(server, token, "/api/v1/alerts", alert("g1", source="gauge-7"))
    cap = await _post_as(
        server,
        token,
        "/api/v1/alerts/cap",
        _cap_cancel("ops@city.example", "o-2", f"ops@city.example,o-1,{SENT}"),
    )

    assert (gauge.status, cap.status) == (202, 202), await cap.text()
    assert (await _stored(server))["alert"] == 1


async def test_authz_cli_issues_a_bound_gateway_token(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    issue = ["token", "issue", "--database", server.runtime.database_url, "--config", str(config)]

    code = cli.main(
        [*issue, "--role", "gateway", "--name", "gauges", "--source", "gauge-*", "--source", "level-?"]
    )
    refused = cli.main([*issue, "--role", "dispatcher", "--name", "desk", "--source", "gauge-*"])

    assert (code, refused) == (0, 2)
    output = capsys.readouterr()
    token = output.out.strip()
    assert "gauges speaks for sources gauge-*, level-?; CAP senders none" in output.err
    assert "--source and --cap-sender only go with --role gateway" in output.err
    pump = await _post_as(server, token, "/api/v1/alerts", alert("p1", source="pump-3"))
    level = await _post_as(server, token, "/api/v1/alerts", alert("l1", source="level-4"))
    assert (pump.status, level.status) == (403, 202)
    listed = cli.main(["token", "list", "--database", server.runtime.database_url, "--config", str(config)])
    assert listed == 0
    gauges = next(line for line in capsys.readouterr().out.splitlines() if "\tgauges\t" in line)
    assert gauges.endswith("\tsources gauge-*, level-?; CAP senders none")


async def test_authz_prankster_cap_cancel_of_others_alerts_cancels_nothing(server: Harness) -> None:
    # A hotline call in the west and a sensor alert in the east, each its own incident.
    call = await _post_as(
        server, server.token("gateway"), "/api/v1/hotline/calls", OUTSIDE_THE_BINDING["hotline"][1]
    )
    assert call.status == 202, await call.text()
    hotline = await call.json()
    sensor = await server.post_alert(alert("e1", source="gauge-east", location=EAST_N))
    assert hotline["incident_id"] != sensor["incident_id"]
    prankster = _cap_cancel(
        "prankster@evil.example", "x-1", f"hotline-12345,c-1,{SENT}", f"gauge-east,e1,{SENT}"
    )
    # The same with a forged sender: the hotline's source is no CAP sender of its call.
    forged = _cap_cancel("hotline-12345", "x-2", f"hotline-12345,c-1,{SENT}")

    answers = []
    for message in (prankster, forged):
        response = await _post_as(server, server.token("gateway"), "/api/v1/alerts/cap", message)
        assert response.status == 202, await response.text()
        answers.append(await response.json())

    assert [answer["cancelled"] for answer in answers] == [[], []]
    assert [[(r["sender"], r["reason"]) for r in answer["ignored_references"]] for answer in answers] == [
        [("hotline-12345", "other_sender"), ("gauge-east", "other_sender")],
        [("hotline-12345", "not_received")],
    ]
    for incident_id in (hotline["incident_id"], sensor["incident_id"]):
        incident = await server.incident(incident_id)
        assert incident["state"] == "dispatched"
        assert "alert_cancelled" not in [event["type"] for event in incident["timeline"]]


# What an action touches -----------------------------------------------------------------------
# The incident in the path is only the first thing a trigger touches: a merge's target, a
# reassign's or assign's responder and a task are all checked against the caller's scope, and
# each one out of scope answers exactly as a missing one (404), changing nothing.

WEST_DESK = CALLERS[WEST]
MUTUAL_AID_WEST_FROM_EAST = [{"borrower": "west", "lenders": ["east"]}]


@dataclass(frozen=True)
class Touch:
    """One trigger of the west dispatcher's that names something of town east (or nothing real)."""

    path: str
    """Formatted with `incident`, `task`, `east_incident`, `east_task` and `target`."""
    body: dict[str, Any]
    field: str
    """The field the 404 names."""
    hidden: Any
    """The east thing it names, from the towns."""


TOUCHES: dict[str, Touch] = {
    "merge into another town's incident": Touch(
        "/api/v1/incidents/{incident}/merge",
        {"into_incident_id": "{target}", "reason": "same flood"},
        "into_incident_id",
        lambda towns: towns.east_incident,
    ),
    "reassign to another town's responder": Touch(
        "/api/v1/incidents/{incident}/reassign",
        {"task_id": "{task}", "responder_id": "{target}", "reason": "closer"},
        "responder_id",
        lambda towns: "duty-east-1",
    ),
    "assign another town's responder": Touch(
        "/api/v1/incidents/{incident}/assign",
        {"responder_id": "{target}", "reason": "more hands"},
        "responder_id",
        lambda towns: "duty-east-1",
    ),
    "reassign another incident's task": Touch(
        "/api/v1/incidents/{incident}/reassign",
        {"task_id": "{target}", "responder_id": "duty-west-1", "reason": "closer"},
        "task_id",
        lambda towns: towns.east_task,
    ),
}
MISSING: dict[str, Any] = {
    "into_incident_id": MISSING_ID,
    "responder_id": "grid-nowhere-1",
    "task_id": MISSING_ID,
}


@dataclass(frozen=True)
class TwoTowns:
    incident: int
    task: int
    east_incident: int
    east_task: int


@pytest.fixture
async def two_towns(server: Harness, towns: Towns) -> TwoTowns:
    [east_task] = (await server.incident(towns.east_incident))["tasks"]
    return TwoTowns(towns.incident, towns.task, towns.east_incident, east_task["id"])


async def _world(server: Harness, two_towns: TwoTowns) -> dict[str, Any]:
    """Everything a touch could change: both incidents as an admin reads them, and the units."""
    responders = await server.client.get("/api/v1/responders", headers=server.auth("admin"))
    return {
        "west": await server.incident(two_towns.incident),
        "east": await server.incident(two_towns.east_incident),
        "responders": (await responders.json())["responders"],
    }


async def _touch(server: Harness, two_towns: TwoTowns, touch: Touch, target: Any) -> ClientResponse:
    body = {key: target if value == "{target}" else value for key, value in touch.body.items()}
    if body.get("task_id") == "{task}":
        body["task_id"] = two_towns.task
    path = touch.path.format(incident=two_towns.incident)
    return await server.client.post(path, json=body, headers=_bearer(_token(server, WEST_DESK)))


@pytest.mark.parametrize("touch", list(TOUCHES))
async def test_authz_touching_another_towns_resource_answers_like_missing(
    server: Harness, two_towns: TwoTowns, touch: str
) -> None:
    what = TOUCHES[touch]
    before = await _world(server, two_towns)

    hidden = await _touch(server, two_towns, what, what.hidden(two_towns))
    missing = await _touch(server, two_towns, what, MISSING[what.field])

    assert (hidden.status, missing.status) == (404, 404), await hidden.text()
    hidden_error, missing_error = (await hidden.json())["error"], (await missing.json())["error"]
    assert (hidden_error["code"], hidden_error["field"]) == ("not_found", what.field)
    named = str(what.hidden(two_towns))
    assert hidden_error["message"].replace(named, "X") == missing_error["message"].replace(
        str(MISSING[what.field]), "X"
    )
    assert await _world(server, two_towns) == before


async def test_authz_merge_from_another_towns_incident_answers_like_missing(
    server: Harness, two_towns: TwoTowns
) -> None:
    before = await _world(server, two_towns)
    headers = _bearer(_token(server, WEST_DESK))

    hidden = await server.client.post(
        f"/api/v1/incidents/{two_towns.east_incident}/merge",
        json={"into_incident_id": two_towns.incident},
        headers=headers,
    )
    missing = await server.client.post(
        f"/api/v1/incidents/{MISSING_ID}/merge",
        json={"into_incident_id": two_towns.incident},
        headers=headers,
    )

    assert (hidden.status, missing.status) == (404, 404)
    assert (await hidden.json())["error"]["message"].replace(str(two_towns.east_incident), "N") == (
        await missing.json()
    )["error"]["message"].replace(str(MISSING_ID), "N")
    assert await _world(server, two_towns) == before


@pytest.mark.parametrize("trigger", ["cancel"])
async def test_authz_acting_on_another_towns_task_answers_like_missing(
    server: Harness, two_towns: TwoTowns, trigger: str
) -> None:
    before = await _world(server, two_towns)
    headers = _bearer(_token(server, WEST_DESK))

    hidden = await server.client.post(f"/api/v1/tasks/{two_towns.east_task}/{trigger}", headers=headers)
    missing = await server.client.post(f"/api/v1/tasks/{MISSING_ID}/{trigger}", headers=headers)

    assert (hidden.status, missing.status) == (404, 404)
    assert (await hidden.json())["error"]["message"].replace(str(two_towns.east_task), "N") == (
        await missing.json()
    )["error"]["message"].replace(str(MISSING_ID), "N")
    assert await _world(server, two_towns) == before


async def test_authz_merge_into_a_missing_incident_is_404_and_a_cancelled_one_422(
    server: Harness, two_towns: TwoTowns
) -> None:
    other = (await server.post_alert(alert("w2", location={"lat": 28.05, "lon": 112.1})))["incident_id"]
    await server.incident_trigger(other, "cancel", {"reason": "false alarm"})

    missing = await server.incident_trigger(
        two_towns.incident, "merge", {"into_incident_id": MISSING_ID}, expect=404
    )
    cancelled = await server.incident_trigger(
        two_towns.incident, "merge", {"into_incident_id": other}, expect=422
    )

    assert missing["error"] == {
        "code": "not_found",
        "message": f"incident {MISSING_ID} does not exist",
        "field": "into_incident_id",
    }
    assert (cancelled["error"]["field"], cancelled["error"]["message"]) == (
        "into_incident_id",
        f"incident {other} is cancelled",
    )


@pytest.mark.parametrize("trigger", ["reassign", "assign"])
async def test_authz_mutual_aid_lets_a_town_task_another_towns_unit(
    make_server: ServerFactory, trigger: str
) -> None:
    server = await make_server(make_config(mutual_aid=MUTUAL_AID_WEST_FROM_EAST))
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    [task] = (await server.incident(west))["tasks"]
    body: dict[str, Any] = {"responder_id": "duty-east-1", "reason": "mutual aid"}
    if trigger == "reassign":
        body["task_id"] = task["id"]
    headers = _bearer(_token(server, WEST_DESK))

    response = await server.client.post(f"/api/v1/incidents/{west}/{trigger}", json=body, headers=headers)

    assert response.status == 200, await response.text()
    tasks = (await server.incident(west))["tasks"]
    assert "duty-east-1" in [each["responder_id"] for each in tasks if each["state"] == "pending"]


async def test_authz_mutual_aid_is_one_way(make_server: ServerFactory) -> None:
    server = await make_server(make_config(mutual_aid=MUTUAL_AID_WEST_FROM_EAST))
    east = (await server.post_alert(alert("e1", source="gauge-east", location=EAST_N)))["incident_id"]
    headers = _bearer(_token(server, CALLERS[EAST]))

    response = await server.client.post(
        f"/api/v1/incidents/{east}/assign", json={"responder_id": "duty-west-1"}, headers=headers
    )

    assert response.status == 404, await response.text()
    assert (await response.json())["error"]["field"] == "responder_id"


@pytest.mark.parametrize(
    ("mutual_aid", "east_units"),
    [([], []), (MUTUAL_AID_WEST_FROM_EAST, ["duty-east-1", "grid-east-s-1"])],
    ids=["without-mutual-aid", "with-mutual-aid"],
)
async def test_authz_suggestions_offer_the_units_a_town_may_borrow(
    make_server: ServerFactory, mutual_aid: list[dict[str, Any]], east_units: list[str]
) -> None:
    server = await make_server(make_config(mutual_aid=mutual_aid))
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    await server.post_alert(alert("e1", source="gauge-east", location=EAST_N))  # grid-east-n-1 busy

    response = await server.client.get(
        f"/api/v1/incidents/{west}/suggestions?limit=100", headers=_bearer(_token(server, WEST_DESK))
    )

    assert response.status == 200, await response.text()
    offered = [unit["id"] for unit in (await response.json())["responders"]]
    assert sorted(unit for unit in offered if unit.startswith(("duty-east", "grid-east"))) == east_units


# Every transport, one decision ----------------------------------------------------------------
# A task trigger over REST, over the WebSocket and as an MQTT ack reaches the same service
# method, which alone decides: the same caller, task and trigger get the same answer on each.
# (The MQTT ack goes through the link's own steps, translate_ack and the device desk, without
# the broker in between; tests/gateways/test_mqtt_link.py drives those through Mosquitto.)

# (caller, which task, trigger, the answer on every transport the caller can use)
TRANSPORT_CASES = [
    (WEST_UNIT, "west", "complete", "ok"),  # a repeat on its done task: changes nothing
    (WEST_UNIT, "west", "cancel", "illegal_transition"),  # a dispatcher's trigger
    (WEST_UNIT, "west", "expire", "illegal_transition"),  # the system's
    (EAST_UNIT, "west", "accept", "not_found"),  # another unit's task: as if missing
    (WEST_UNIT, "missing", "accept", "not_found"),
    (WEST, "west", "cancel", "illegal_transition"),  # allowed, but the task is done
    (WEST, "west", "accept", "illegal_transition"),  # a responder's trigger
    (EAST, "west", "cancel", "not_found"),
    (SCREEN, "west", "cancel", "forbidden"),
]


async def _over_rest(server: Harness, caller: Caller, task_id: int, trigger: str) -> str:
    response = await server.client.post(
        f"/api/v1/tasks/{task_id}/{trigger}", headers=_bearer(_token(server, caller))
    )
    return "ok" if response.status == 200 else (await response.json())["error"]["code"]


async def _over_websocket(server: Harness, caller: Caller, task_id: int, trigger: str) -> str:
    headers = _bearer(_token(server, caller))
    async with websockets.connect(_url(server), additional_headers=headers) as ws:
        assert (await _frame(ws))["type"] == "hello"
        message = {"type": "trigger", "id": "transport-1", "task_id": task_id, "trigger": trigger}
        [result] = [f for f in await _answers(ws, message) if f["type"] == "result"]
    return "ok" if result["ok"] else str(result["error"]["code"])


async def _over_mqtt(server: Harness, caller: Caller, task_id: int, trigger: str) -> str:
    assert caller.responder is not None
    ack = translate_ack(orjson.dumps({"task_id": task_id, "trigger": trigger}))
    result = await server.runtime.devices.task_trigger(caller.responder, ack)
    return "ok" if result["ok"] else str(result["error"]["code"])


@pytest.mark.parametrize(
    ("caller", "task", "trigger", "answer"),
    TRANSPORT_CASES,
    ids=[f"{caller}-{task}-{trigger}" for caller, task, trigger, _ in TRANSPORT_CASES],
)
async def test_authz_every_transport_answers_a_task_trigger_alike(
    server: Harness, done_task: Towns, caller: str, task: str, trigger: str, answer: str
) -> None:
    who = CALLERS[caller]
    task_id = done_task.task if task == "west" else MISSING_ID
    before = await server.incident(done_task.incident)

    answers = {
        "rest": await _over_rest(server, who, task_id, trigger),
        "websocket": await _over_websocket(server, who, task_id, trigger),
    }
    if who.role == "responder":  # only units have an acks topic
        answers["mqtt"] = await _over_mqtt(server, who, task_id, trigger)

    assert answers == dict.fromkeys(answers, answer)
    assert await server.incident(done_task.incident) == before


async def test_authz_delegating_to_another_town_answers_like_an_unknown_jurisdiction(
    server: Harness, two_towns: TwoTowns
) -> None:
    for _ in range(2):  # street → town → city: the west incident is the city's now
        await server.incident_trigger(two_towns.incident, "escalate", {"reason": "too big"})
    assert (await server.incident(two_towns.incident))["owner"]["jurisdiction"] == "city"
    before = await _world(server, two_towns)
    headers = _bearer(_token(server, WEST_DESK))
    path = f"/api/v1/incidents/{two_towns.incident}/delegate"

    hidden = await server.client.post(path, json={"jurisdiction": "east"}, headers=headers)
    unknown = await server.client.post(path, json={"jurisdiction": "atlantis"}, headers=headers)

    assert (hidden.status, unknown.status) == (422, 422)
    hidden_error, unknown_error = (await hidden.json())["error"], (await unknown.json())["error"]
    assert hidden_error["field"] == "jurisdiction"
    assert hidden_error["message"].replace("'east'", "X") == unknown_error["message"].replace(
        "'atlantis'", "X"
    )
    assert await _world(server, two_towns) == before
