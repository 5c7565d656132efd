"""Bad input: a clear 4xx naming the field, and nothing already accepted changes."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse

from dispatch.tables import alert_table, event_table, incident_table, task_table
from tests.conftest import Harness, ServerFactory
from tests.factories import alert, make_config
from web.incidents import DISPATCHER_TRIGGERS

Snapshot = dict[str, Any]
Headers = Callable[[Harness], dict[str, str]]


async def _snapshot(server: Harness) -> Snapshot:
    """Every row an accepted alert produced: counts, the incidents and the tasks, column by column."""

    def read(connection: sa.Connection) -> Snapshot:
        counts = {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (alert_table, incident_table, task_table, event_table)
        }
        incidents = connection.execute(sa.select(incident_table).order_by(incident_table.c.id)).mappings()
        tasks = connection.execute(sa.select(task_table).order_by(task_table.c.id)).mappings()
        return {
            "counts": counts,
            "incidents": [dict(row) for row in incidents],
            "tasks": [dict(row) for row in tasks],
        }

    return await server.runtime.read(read)


@pytest.fixture
async def accepted(server: Harness) -> Snapshot:
    """One good alert, accepted before the bad request: its incident must come through untouched."""
    answer = await server.post_alert(alert("good-1"))
    assert answer == {"alert_id": 1, "incident_id": 1, "duplicate": False}
    snapshot = await _snapshot(server)
    # alert_received, incident_reported, incident_dispatched, task_assigned, responder_status_changed
    assert snapshot["counts"] == {"alert": 1, "incident": 1, "task": 1, "event": 5}
    assert snapshot["incidents"][0]["state"] == "dispatched"
    return snapshot


async def _error(response: ClientResponse, status: int, code: str | None, field: str | None) -> Any:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json", text
    error = orjson.loads(text)["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert error["field"] == field
    if field is not None and status == 422:
        # The message names what is wrong, not only the field attribute.
        name = field.rsplit(".", 1)[-1]
        assert name in error["message"] or name.removesuffix("_id") in error["message"]
    return error


def _json(body: Any) -> bytes:
    return orjson.dumps(body)


def _without(name: str) -> bytes:
    body = alert("bad-1")
    del body[name]
    return _json(body)


def _gateway(server: Harness) -> dict[str, str]:
    return server.auth("gateway")


@dataclass(frozen=True)
class Case:
    body: bytes
    status: int
    code: str | None
    field: str | None
    headers: Headers = _gateway


def _batch_with_bad_fourth(bad: dict[str, Any]) -> bytes:
    good = [alert(f"batch-{n}", source=f"gauge-{n + 10}") for n in range(3)]
    return _json({"alerts": [*good, bad, alert("batch-4", source="gauge-14")]})


_no_place = alert("bad-1")
del _no_place["location"]

_no_category_fourth = alert("batch-3", source="gauge-13")
del _no_category_fourth["category"]

INTAKE_CASES = [
    pytest.param(Case(b'{"source": "gauge-1", ', 400, "malformed_json", None), id="malformed-json"),
    pytest.param(Case(b"", 400, "malformed_json", None), id="empty-body"),
    pytest.param(Case(_json([alert("bad-1")]), 422, "invalid", None), id="json-array"),
    pytest.param(Case(_json("an alert"), 422, "invalid", None), id="json-string"),
    pytest.param(Case(_without("source"), 422, "invalid", "source"), id="missing-source"),
    pytest.param(
        Case(_without("source_event_id"), 422, "invalid", "source_event_id"), id="missing-source-event-id"
    ),
    pytest.param(Case(_without("kind"), 422, "invalid", "kind"), id="missing-kind"),
    pytest.param(Case(_without("category"), 422, "invalid", "category"), id="missing-category"),
    pytest.param(
        Case(_json(alert("bad-1", severity="high")), 422, "invalid", "severity"), id="severity-text"
    ),
    pytest.param(
        Case(_json(alert("bad-1", location={"lat": "north", "lon": 112.1})), 422, "invalid", "location.lat"),
        id="latitude-text",
    ),
    pytest.param(
        Case(_json(alert("bad-1", attributes=["level", 3.1])), 422, "invalid", "attributes"),
        id="attributes-list",
    ),
    pytest.param(Case(_json(alert("bad-1", kind="telepathy")), 422, "invalid", "kind"), id="unknown-kind"),
    pytest.param(
        Case(_json(alert("bad-1", category="volcano")), 422, "invalid", "category"), id="unknown-category"
    ),
    pytest.param(
        Case(_json(alert("bad-1", location={"lat": 200, "lon": 112.1})), 422, "invalid", "location.lat"),
        id="latitude-200",
    ),
    pytest.param(
        Case(_json(alert("bad-1", location={"lat": 28.15, "lon": -181})), 422, "invalid", "location.lon"),
        id="longitude-minus-181",
    ),
    pytest.param(Case(_json(alert("bad-1", severity=0)), 422, "invalid", "severity"), id="severity-0"),
    pytest.param(Case(_json(alert("bad-1", severity=5)), 422, "invalid", "severity"), id="severity-5"),
    pytest.param(
        Case(_json(alert("bad-1", observed_at="2026-07-01T08:00:00")), 422, "invalid", "observed_at"),
        id="observed-at-without-offset",
    ),
    pytest.param(
        Case(_json(alert("bad-1", observed_at="yesterday")), 422, "invalid", "observed_at"),
        id="observed-at-not-a-date",
    ),
    pytest.param(Case(_json(_no_place), 422, "invalid", "location"), id="neither-location-nor-jurisdiction"),
    pytest.param(
        Case(_json(alert("bad-1", jurisdiction="atlantis")), 422, "invalid", "jurisdiction"),
        id="unknown-jurisdiction",
    ),
    pytest.param(Case(_json(alert("bad-1", colour="red")), 422, "invalid", "colour"), id="extra-field"),
    # PostgreSQL text cannot hold NUL; found by the OpenAPI contract test as a 500.
    pytest.param(
        Case(_json(alert("bad-1", title="pump\u0000 3")), 422, "invalid", "title"), id="nul-in-title"
    ),
    pytest.param(
        Case(
            _batch_with_bad_fourth(alert("batch-3", source="gauge-13", attributes={"note": "\u0000"})),
            422,
            "invalid",
            "alerts.3.attributes.note",
        ),
        id="nul-in-batch",
    ),
    pytest.param(Case(_json({"alerts": []}), 422, "invalid", "alerts"), id="empty-batch"),
    pytest.param(
        Case(_json({"alerts": [alert("batch-0")], "priority": 1}), 422, "invalid", "priority"),
        id="batch-extra-field",
    ),
    pytest.param(
        Case(_batch_with_bad_fourth(_no_category_fourth), 422, "invalid", "alerts.3.category"),
        id="batch-fourth-missing-category",
    ),
    pytest.param(
        Case(
            _batch_with_bad_fourth(alert("batch-3", source="gauge-13", location={"lat": 28.1, "lon": 200})),
            422,
            "invalid",
            "alerts.3.location.lon",
        ),
        id="batch-fourth-longitude-200",
    ),
    pytest.param(
        Case(
            _batch_with_bad_fourth(alert("batch-3", source="gauge-13", category="volcano")),
            422,
            "invalid",
            "alerts.3.category",
        ),
        id="batch-fourth-unknown-category",
    ),
    pytest.param(
        Case(_json(alert("bad-1")), 401, "unauthorized", "Authorization", lambda _: {}), id="no-token"
    ),
    pytest.param(
        Case(
            _json(alert("bad-1")),
            401,
            "unauthorized",
            "Authorization",
            lambda _: {"Authorization": "Bearer dsp_not-a-token"},
        ),
        id="wrong-token",
    ),
    pytest.param(
        Case(
            _json(alert("bad-1")),
            401,
            "unauthorized",
            "Authorization",
            lambda _: {"Authorization": "Basic Z2F0ZXdheTpzZWNyZXQ="},
        ),
        id="basic-auth",
    ),
    pytest.param(
        Case(
            _json(alert("bad-1")),
            403,
            "forbidden",
            None,
            lambda server: server.auth("responder", name="grid-west-n-1", responder="grid-west-n-1"),
        ),
        id="responder-token",
    ),
]


@pytest.mark.parametrize("case", INTAKE_CASES)
async def test_intake_bad_request_is_refused_and_changes_nothing(
    server: Harness, accepted: Snapshot, case: Case
) -> None:
    headers = {"Content-Type": "application/json", **case.headers(server)}

    response = await server.client.post("/api/v1/alerts", data=case.body, headers=headers)

    await _error(response, case.status, case.code, case.field)
    assert await _snapshot(server) == accepted


async def test_intake_bad_batch_can_be_resent_once_fixed(server: Harness, accepted: Snapshot) -> None:
    bad = alert("batch-3", source="gauge-13", category="volcano")
    response = await server.client.post(
        "/api/v1/alerts", data=_batch_with_bad_fourth(bad), headers=server.auth("gateway")
    )
    await _error(response, 422, "invalid", "alerts.3.category")

    # None of the first three was stored, so the corrected batch is new throughout.
    answer = await server.post_alert(
        orjson.loads(_batch_with_bad_fourth(alert("batch-3", source="gauge-13")))
    )

    assert [each["duplicate"] for each in answer["results"]] == [False] * 5
    assert (await _snapshot(server))["counts"]["alert"] == 1 + 5


async def test_intake_body_over_limit_is_413_json(server: Harness, accepted: Snapshot) -> None:
    body = io.BytesIO(_json(alert("bad-1", description="x" * (10 * 1024 * 1024))))

    response = await server.client.post(
        "/api/v1/alerts",
        data=body,
        headers={"Content-Type": "application/json", **server.auth("gateway")},
    )

    error = await _error(response, 413, "too_large", None)
    assert str(server.config.intake.max_body_bytes) in error["message"]
    assert await _snapshot(server) == accepted


async def test_intake_batch_at_the_configured_limit_is_accepted(make_server: ServerFactory) -> None:
    server = await make_server(make_config(intake={"max_batch": 5}))
    batch = {"alerts": [alert(f"batch-{n}", source=f"gauge-{n + 10}") for n in range(5)]}

    answer = await server.post_alert(batch)

    assert len(answer["results"]) == 5
    assert (await _snapshot(server))["counts"]["alert"] == 5


async def test_intake_batch_over_limit_names_the_limit(make_server: ServerFactory) -> None:
    server = await make_server(make_config(intake={"max_batch": 5}))
    await server.post_alert(alert("good-1"))
    before = await _snapshot(server)
    batch = {"alerts": [alert(f"batch-{n}", source=f"gauge-{n + 10}") for n in range(6)]}

    response = await server.client.post("/api/v1/alerts", json=batch, headers=server.auth("gateway"))

    error = await _error(response, 413, "too_large", "alerts")
    assert "5" in error["message"]
    assert await _snapshot(server) == before


# Other endpoints ------------------------------------------------------------------------------


def _admin(server: Harness) -> dict[str, str]:
    return server.auth("admin")


def _task_owner(server: Harness) -> dict[str, str]:
    return server.auth("responder", name="grid-west-n-1", responder="grid-west-n-1")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    status: int
    code: str | None
    field: str | None
    headers: Headers = _admin


def _request(
    method: str,
    path: str,
    status: int,
    code: str | None,
    field: str | None,
    body: Any = None,
    headers: Headers = _admin,
) -> Request:
    return Request(method, path, None if body is None else _json(body), status, code, field, headers)


OTHER_CASES = [
    pytest.param(_request("GET", "/api/v1/incidents?state=bogus", 422, "invalid", "state"), id="state"),
    pytest.param(
        _request("GET", "/api/v1/incidents?state=dispatched,bogus", 422, "invalid", "state"),
        id="state-in-list",
    ),
    pytest.param(_request("GET", "/api/v1/incidents?tier=bogus", 422, "invalid", "tier"), id="tier"),
    pytest.param(
        _request("GET", "/api/v1/incidents?severity=9", 422, "invalid", "severity"), id="severity-9"
    ),
    pytest.param(
        _request("GET", "/api/v1/incidents?severity=high", 422, "invalid", "severity"), id="severity-text"
    ),
    pytest.param(_request("GET", "/api/v1/incidents?limit=0", 422, "invalid", "limit"), id="limit-0"),
    pytest.param(_request("GET", "/api/v1/incidents?offset=-1", 422, "invalid", "offset"), id="offset"),
    pytest.param(_request("GET", "/api/v1/incidents?since=yesterday", 422, "invalid", "since"), id="since"),
    pytest.param(
        _request("GET", "/api/v1/incidents?until=2026-07-01T08:00:00", 422, "invalid", "until"),
        id="until-without-offset",
    ),
    pytest.param(
        _request("GET", "/api/v1/incidents?jurisdiction=atlantis", 422, "invalid", "jurisdiction"),
        id="jurisdiction",
    ),
    pytest.param(
        _request("GET", "/api/v1/incidents?category=volcano", 422, "invalid", "category"), id="category"
    ),
    pytest.param(_request("GET", "/api/v1/events?after=last", 422, "invalid", "after"), id="events-after"),
    pytest.param(_request("GET", "/api/v1/events?limit=0", 422, "invalid", "limit"), id="events-limit"),
    pytest.param(
        _request(
            "POST", "/api/v1/incidents/1/assign", 422, "invalid", "responder_id", {"responder_id": "nobody"}
        ),
        id="assign-nobody",
    ),
    pytest.param(
        _request(
            "POST",
            "/api/v1/incidents/1/assign",
            422,
            "invalid",
            "priority",
            {"responder_id": "grid-west-n-2", "priority": "high"},
        ),
        id="assign-extra-field",
    ),
    pytest.param(
        _request("POST", "/api/v1/incidents/1/resolve", 422, "invalid", "reason", {"reason": 42}),
        id="resolve-reason-number",
    ),
    pytest.param(
        _request("POST", "/api/v1/incidents/1/resolve", 422, "invalid", "reason", {"reason": "done\u0000"}),
        id="resolve-reason-nul",
    ),
    pytest.param(
        _request("POST", "/api/v1/incidents/1/resolve", 422, "invalid", None, ["pumped out"]),
        id="resolve-body-array",
    ),
    pytest.param(_request("POST", "/api/v1/incidents/999/resolve", 404, "not_found", "id"), id="resolve-999"),
    pytest.param(
        _request("POST", "/api/v1/incidents/1/resolve", 422, "invalid", "reason"),
        id="resolve-without-summary",
    ),
    pytest.param(
        _request(
            "POST",
            "/api/v1/incidents/1/reassign",
            422,
            "invalid",
            "task_id",
            {"task_id": 99, "responder_id": "duty-west-1"},
        ),
        id="reassign-unknown-task",
    ),
    pytest.param(
        _request(
            "POST", "/api/v1/tasks/1/accept", 422, "invalid", "eta", {"note": "ok", "eta": 5}, _task_owner
        ),
        id="task-extra-field",
    ),
    pytest.param(_request("GET", "/api/v1/nowhere", 404, "not_found", None), id="unknown-path"),
    pytest.param(_request("DELETE", "/api/v1/alerts", 405, "method_not_allowed", None), id="wrong-method"),
]


@pytest.mark.parametrize("case", OTHER_CASES)
async def test_api_bad_request_is_refused_and_changes_nothing(
    server: Harness, accepted: Snapshot, case: Request
) -> None:
    headers = {"Content-Type": "application/json", **case.headers(server)}

    response = await server.client.request(case.method, case.path, data=case.body, headers=headers)

    await _error(response, case.status, case.code, case.field)
    assert await _snapshot(server) == accepted


async def test_api_wrong_method_names_the_allowed_ones(server: Harness) -> None:
    response = await server.client.get("/api/v1/alerts", headers=server.auth("admin"))

    await _error(response, 405, "method_not_allowed", None)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("incident_id", ["abc", "1.5", "-"])
async def test_incident_detail_bad_id_is_json_4xx(
    server: Harness, accepted: Snapshot, incident_id: str
) -> None:
    response = await server.client.get(f"/api/v1/incidents/{incident_id}", headers=server.auth("admin"))

    assert response.status in (404, 422), await response.text()
    error = await _error(response, response.status, None, "id")
    assert error["code"] in ("not_found", "invalid")
    assert await _snapshot(server) == accepted


async def test_incident_unknown_trigger_is_409_listing_triggers(server: Harness, accepted: Snapshot) -> None:
    response = await server.client.post("/api/v1/incidents/1/fly", headers=server.auth("admin"))

    error = await _error(response, 409, "illegal_transition", "trigger")
    assert "fly" in error["message"]
    assert "resolve" in error["allowed"]
    assert "fly" not in error["allowed"]
    assert await _snapshot(server) == accepted


async def test_incident_illegal_transition_is_409_with_state_and_allowed(
    server: Harness, accepted: Snapshot
) -> None:
    response = await server.client.post(
        "/api/v1/incidents/1/close", json={"reason": "done"}, headers=server.auth("admin")
    )

    error = await _error(response, 409, "illegal_transition", "trigger")
    assert error["state"] == "dispatched"
    assert "resolve" in error["allowed"]
    assert "close" not in error["allowed"]
    assert await _snapshot(server) == accepted
    assert (await server.incident(1))["state"] == "dispatched"


async def test_incident_illegal_transition_offers_only_triggers_the_caller_may_send(
    server: Harness, accepted: Snapshot
) -> None:
    response = await server.client.post("/api/v1/incidents/1/close", headers=server.auth("admin"))

    error = await _error(response, 409, "illegal_transition", "trigger")
    # Each trigger offered must be one this endpoint takes, or the client is sent in a circle.
    assert set(error["allowed"]) <= set(DISPATCHER_TRIGGERS)
