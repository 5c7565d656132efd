"""Real responses against the models of web/schemas.py and dispatch/storage/wire.py, unknown keys refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from dispatch.storage.department_tasks import DepartmentTaskQueue
from dispatch.storage.wire import IncidentList, Suggestions
from dispatch.views.stats_shapes import Stats
from tests.conftest import Harness
from tests.factories import EAST_N, OUTSIDE, WEST_S, alert
from web.department_tasks import DepartmentTaskChanged
from web.errors import ErrorBody
from web.schemas import (
    AlertResults,
    EventList,
    Health,
    IncidentChanged,
    IncidentDetail,
    Ready,
    Received,
    ResponderList,
    TaskChanged,
)

RESPONDER = {"role": "responder", "name": "grid-west-n-1", "responder": "grid-west-n-1"}


async def _send(
    server: Harness,
    method: str,
    path: str,
    *,
    status: int,
    body: Any = None,
    auth: dict[str, Any] | None = None,
) -> bytes:
    headers = server.auth(**auth) if auth is not None else {}
    response = await server.client.request(method, path, json=body, headers=headers)
    raw = await response.read()
    assert response.status == status, raw
    assert response.content_type == "application/json"
    return raw


def _conforms(model: Any, raw: bytes) -> Any:
    """The body as `model` (a pydantic model or a typed dict of dispatch/storage/wire.py)."""
    return TypeAdapter(model).validate_json(raw, strict=True)


async def test_schemas_every_success_body_matches_its_model(server: Harness) -> None:
    admin = {"role": "admin"}
    one = await _send(server, "POST", "/api/v1/alerts", status=202, body=alert("e1"), auth=admin)
    batch = {"alerts": [alert("e2", source="gauge-2", location=WEST_S), alert("e3", location=EAST_N)]}
    many = await _send(server, "POST", "/api/v1/alerts", status=202, body=batch, auth=admin)
    incident_id = _conforms(Received, one)["incident_id"]
    detail = _conforms(
        IncidentDetail, await _send(server, "GET", f"/api/v1/incidents/{incident_id}", status=200, auth=admin)
    )
    task_id = detail["tasks"][0]["id"]
    delivered = await _send(server, "POST", f"/api/v1/tasks/{task_id}/deliver", status=200, auth=RESPONDER)
    accepted = await _send(
        server,
        "POST",
        f"/api/v1/tasks/{task_id}/accept",
        status=200,
        body={"note": "on my way"},
        auth=RESPONDER,
    )
    escalated = await _send(
        server,
        "POST",
        f"/api/v1/incidents/{incident_id}/escalate",
        status=200,
        body={"reason": "needs pumps"},
        auth=admin,
    )
    resolved = await _send(
        server,
        "POST",
        f"/api/v1/incidents/{incident_id}/resolve",
        status=200,
        body={"reason": "drain cleared"},
        auth=admin,
    )

    _conforms(Received, one)
    _conforms(AlertResults, many)
    _conforms(TaskChanged, delivered)
    _conforms(TaskChanged, accepted)
    _conforms(IncidentChanged, escalated)
    _conforms(IncidentChanged, resolved)
    full = await _send(server, "GET", f"/api/v1/incidents/{incident_id}", status=200, auth=admin)
    shown = _conforms(IncidentDetail, full)
    assert shown["tasks"] and shown["alerts"] and shown["timeline"] and shown["summary"] == "drain cleared"
    reads: list[tuple[str, Any]] = [
        ("/api/v1/incidents", IncidentList),
        ("/api/v1/incidents?state=dispatched,resolved&limit=2", IncidentList),
        ("/api/v1/events", EventList),
        ("/api/v1/events?after=3&limit=2", EventList),
        ("/api/v1/responders", ResponderList),
        (f"/api/v1/incidents/{incident_id + 1}/suggestions", Suggestions),
    ]
    for path, model in reads:
        _conforms(model, await _send(server, "GET", path, status=200, auth=admin))
    _conforms(Health, await _send(server, "GET", "/healthz", status=200))
    _conforms(Ready, await _send(server, "GET", "/readyz", status=200))


async def test_schemas_department_task_bodies_match_their_models(server: Harness) -> None:
    admin, urban = {"role": "admin"}, {"role": "dispatcher", "name": "urban", "department": "urban"}
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    body = {"department": "urban"}
    await _send(
        server, "POST", f"/api/v1/incidents/{incident_id}/add_department", status=200, body=body, auth=admin
    )
    queue = _conforms(
        DepartmentTaskQueue, await _send(server, "GET", "/api/v1/department-tasks", status=200, auth=urban)
    )
    task_id = queue["department_tasks"][0]["id"]
    for trigger in ("accept", "complete"):
        path = f"/api/v1/department-tasks/{task_id}/{trigger}"
        _conforms(DepartmentTaskChanged, await _send(server, "POST", path, status=200, auth=urban))
    detail = await _send(server, "GET", f"/api/v1/incidents/{incident_id}", status=200, auth=urban)
    assert _conforms(IncidentDetail, detail)["department_tasks"][0]["state"] == "done"
    done = await _send(
        server, "GET", "/api/v1/department-tasks?state=done&department=urban", status=200, auth=admin
    )
    assert len(_conforms(DepartmentTaskQueue, done)["department_tasks"]) == 1


async def test_schemas_stats_body_matches_its_model(server: Harness) -> None:
    admin = {"role": "admin"}
    batch = {"alerts": [alert("e1"), alert("e2", location=EAST_N), alert("e3", location=OUTSIDE, severity=1)]}
    await _send(server, "POST", "/api/v1/alerts", status=202, body=batch, auth=admin)
    incident = _conforms(
        IncidentDetail, await _send(server, "GET", "/api/v1/incidents/1", status=200, auth=admin)
    )
    task_id = incident["tasks"][0]["id"]
    for trigger in ("accept", "arrive"):
        await _send(server, "POST", f"/api/v1/tasks/{task_id}/{trigger}", status=200, auth=RESPONDER)
    await _send(server, "POST", "/api/v1/incidents/2/escalate", status=200, body={}, auth=admin)
    await _send(server, "POST", "/api/v1/incidents/2/resolve", status=200, body={"reason": "ok"}, auth=admin)

    raw = await _send(server, "GET", "/api/v1/stats", status=200, auth=admin)
    wall = {"role": "screen", "jurisdiction": "west"}
    town = await _send(server, "GET", "/api/v1/stats", status=200, auth=wall)

    shown = _conforms(Stats, raw)
    _conforms(Stats, town)
    assert shown["incidents"] and shown["period"]["resolved"] == 1
    assert shown["period"]["accept"]["median_s"] is not None
    assert [each["town"] for each in shown["towns"]] == ["west", "east", "city"]  # the city's own: outside


@pytest.mark.parametrize(
    ("method", "path", "body", "auth", "status"),
    [
        ("GET", "/api/v1/incidents", None, None, 401),
        ("GET", "/api/v1/incidents", None, {"role": "gateway"}, 403),
        ("GET", "/api/v1/incidents/99", None, {"role": "admin"}, 404),
        ("GET", "/api/v1/incidents?severity=9", None, {"role": "admin"}, 422),
        ("POST", "/api/v1/incidents/1/close", None, {"role": "admin"}, 409),
        ("POST", "/api/v1/incidents/1/fly", None, {"role": "admin"}, 409),
        ("POST", "/api/v1/alerts", {"source": "x"}, {"role": "gateway"}, 422),
    ],
)
async def test_schemas_every_error_body_matches_its_model(
    server: Harness, method: str, path: str, body: Any, auth: dict[str, Any] | None, status: int
) -> None:
    await server.post_alert(alert("e1"))

    raw = await _send(server, method, path, status=status, body=body, auth=auth)

    _conforms(ErrorBody, raw)
