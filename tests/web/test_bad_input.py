"""Bad input: a clear 4xx naming the field, and nothing already accepted changes."""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse

from dispatch.access.authz import INCIDENT_TRIGGERS
from dispatch.storage.tables import alert_table, event_table, incident_table, task_table
from tests.conftest import Harness, ServerFactory
from tests.factories import alert, make_config
from tests.gateways.test_alertmanager import SETTINGS as AM_SETTINGS
from tests.gateways.test_alertmanager import _payload as am_payload
from tests.gateways.test_cap import CAP
from tests.gateways.test_frigate import FRIGATE
from tests.gateways.test_frigate import recorded as frigate_recorded
from tests.gateways.test_hotline import entry as hotline_entry
from tests.gateways.test_hotline import telephony as hotline_telephony


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """An HTTP-edge table: what is refused is decided before anything reaches the database, so it
    runs on SQLite only, for the suite's time. Where stored values matter, tests run on both
    (tests/web/test_stored_values.py, the gateways' tests, the authorization matrix)."""
    return sqlite_url


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


def _deep(levels: int) -> bytes:
    """A JSON object nested `levels` deep, written by hand: orjson writes at most 254 levels."""
    return b'{"a": ' * levels + b"1" + b"}" * levels


def _with_raw(body: dict[str, Any], name: str, raw: bytes) -> bytes:
    """`body` as JSON with one more field whose value is `raw` JSON text."""
    return _json(body)[:-1] + b", " + _json(name) + b": " + raw + b"}"


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
    # Accepted once, this made every read of its incident a 500 (past year 9999 in UTC).
    pytest.param(
        Case(_json(alert("bad-1", observed_at="9999-12-31T23:59:59-23:59")), 422, "invalid", "observed_at"),
        id="observed-at-past-year-9999",
    ),
    pytest.param(
        Case(_json(alert("bad-1", observed_at="1999-12-31T23:59:59Z")), 422, "invalid", "observed_at"),
        id="observed-at-before-2000",
    ),
    pytest.param(
        # The test clock reads 2026-09-21T14:13:20Z; intake.max_future_skew is 10 minutes.
        Case(_json(alert("bad-1", observed_at="2026-09-21T14:23:21Z")), 422, "invalid", "observed_at"),
        id="observed-at-beyond-skew",
    ),
    pytest.param(
        Case(
            _batch_with_bad_fourth(alert("batch-3", source="gauge-13", observed_at="2999-01-01T00:00:00Z")),
            422,
            "invalid",
            "alerts.3.observed_at",
        ),
        id="batch-fourth-observed-at-2999",
    ),
    pytest.param(Case(_json(_no_place), 422, "invalid", "location"), id="neither-location-nor-jurisdiction"),
    # Strict types: a JSON boolean or text is no number. `true` opened a grade I incident.
    pytest.param(Case(_json(alert("bad-1", severity=True)), 422, "invalid", "severity"), id="severity-true"),
    pytest.param(Case(_json(alert("bad-1", severity="2")), 422, "invalid", "severity"), id="severity-text-2"),
    pytest.param(Case(_json(alert("bad-1", severity=2.0)), 422, "invalid", "severity"), id="severity-2.0"),
    pytest.param(
        Case(_json(alert("bad-1", location={"lat": "28.15", "lon": 112.1})), 422, "invalid", "location.lat"),
        id="latitude-numeric-text",
    ),
    pytest.param(
        Case(_json(alert("bad-1", location={"lat": True, "lon": 112.1})), 422, "invalid", "location.lat"),
        id="latitude-true",
    ),
    pytest.param(
        Case(_json({**alert("x"), "source_event_id": True}), 422, "invalid", "source_event_id"),
        id="source-event-id-true",
    ),
    # Free-form values: orjson writes 254 levels at most; past that a stored alert was a 500.
    pytest.param(
        Case(_with_raw(alert("bad-1"), "attributes", _deep(300)), 422, "invalid", "attributes"),
        id="attributes-300-deep",
    ),
    pytest.param(
        Case(_with_raw(alert("bad-1"), "attributes", _deep(17)), 422, "invalid", "attributes"),
        id="attributes-17-deep",
    ),
    pytest.param(
        Case(_json(alert("bad-1", attributes={"note": "x" * (16 * 1024)})), 422, "invalid", "attributes"),
        id="attributes-over-16-kib",
    ),
    pytest.param(
        Case(
            _json({"alerts": [alert("batch-0", source="gauge-10")]})[:-2]
            + b", "
            + _with_raw(alert("batch-1", source="gauge-11"), "attributes", _deep(255))
            + b"]}",
            422,
            "invalid",
            "alerts.1.attributes",
        ),
        id="batch-second-attributes-255-deep",
    ),
    # Deeper than orjson reads (1,024 levels): the body is refused as JSON, never a 500.
    pytest.param(Case(_deep(1100), 400, "malformed_json", None), id="body-1100-deep"),
    pytest.param(Case(b"[" * 600 + b"]" * 600, 422, "invalid", None), id="body-600-deep-list"),
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
        "/api/v1/alerts", data=_batch_with_bad_fourth(bad), headers={**_JSON, **server.auth("gateway")}
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
            "POST", "/api/v1/incidents/1/assign", 404, "not_found", "responder_id", {"responder_id": "nobody"}
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
            404,
            "not_found",
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
    pytest.param(
        _request(
            "POST", "/api/v1/incidents/1/merge", 422, "invalid", "into_incident_id", {"into_incident_id": "2"}
        ),
        id="merge-into-text-id",
    ),
    pytest.param(
        _request(
            "POST",
            "/api/v1/incidents/1/reassign",
            422,
            "invalid",
            "task_id",
            {"task_id": True, "responder_id": "duty-west-1"},
        ),
        id="reassign-task-id-true",
    ),
    pytest.param(
        _request(
            "POST", "/api/v1/session", 422, "invalid", "password", {"name": "wang", "password": 123456789}
        ),
        id="login-password-number",
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
    assert set(error["allowed"]) <= set(INCIDENT_TRIGGERS)


# Media types and content codings --------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A request to any intake or action route with the headers that make it wrong."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    code: str
    field: str | None
    role: str = "gateway"


_GOOD = _json(alert("bad-1"))


def _raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some senders write HTTP's `deflate`."""
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


_JSON = {"Content-Type": "application/json"}

MEDIA_CASES = [
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {"Content-Type": "text/plain"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="alerts-text-plain",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {"Content-Type": "application/xml"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="alerts-application-xml",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {"Content-Type": "application/x-www-form-urlencoded"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="alerts-form",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts/alertmanager",
            {"Content-Type": "text/plain"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="alertmanager-text-plain",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts/frigate",
            {"Content-Type": "text/plain"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="frigate-text-plain",
    ),
    pytest.param(
        Sent(
            "/api/v1/hotline/calls",
            {"Content-Type": "application/xml"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Type",
        ),
        id="hotline-application-xml",
    ),
    pytest.param(
        Sent(
            "/api/v1/incidents/1/resolve",
            {"Content-Type": "text/plain"},
            _json({"reason": "done"}),
            415,
            "unsupported_media_type",
            "Content-Type",
            "admin",
        ),
        id="resolve-text-plain",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts/cap",
            {"Content-Type": "application/json"},
            _GOOD,
            415,
            "unsupported_media_type",
            None,
        ),
        id="cap-json",
    ),
    # A body that is not what its Content-Encoding says: a 500 and two tracebacks before.
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "deflate"},
            b"garbage" * 20,
            400,
            "bad_encoding",
            "Content-Encoding",
        ),
        id="deflate-garbage",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "gzip"},
            b"garbage" * 20,
            400,
            "bad_encoding",
            "Content-Encoding",
        ),
        id="gzip-garbage",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "gzip"},
            gzip.compress(_GOOD)[:-8],
            400,
            "bad_encoding",
            "Content-Encoding",
        ),
        id="gzip-truncated",
    ),
    # Before: a text/plain 400 asking the operator to install Brotli.
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "br"},
            b"\x0b\x02\x80{}\x03",
            415,
            "unsupported_media_type",
            "Content-Encoding",
        ),
        id="brotli",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "zstd"},
            _GOOD,
            415,
            "unsupported_media_type",
            "Content-Encoding",
        ),
        id="zstd",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts/cap",
            {"Content-Type": "application/xml", "Content-Encoding": "deflate"},
            b"<alert/>",
            400,
            "bad_encoding",
            "Content-Encoding",
        ),
        id="cap-deflate-garbage",
    ),
    pytest.param(
        Sent(
            "/api/v1/alerts",
            {**_JSON, "Content-Encoding": "gzip"},
            gzip.compress(_json(alert("bad-1", description="x" * (2 * 1024 * 1024)))),
            413,
            "too_large",
            None,
        ),
        id="gzip-bomb-over-body-limit",
    ),
]


@pytest.mark.parametrize("case", MEDIA_CASES)
async def test_media_type_or_coding_refused_as_json_without_traceback(
    server: Harness, accepted: Snapshot, case: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**case.headers, **server.auth(case.role)}

    response = await server.client.post(case.path, data=case.body, headers=headers)

    await _error(response, case.status, case.code, case.field)
    assert await _snapshot(server) == accepted
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param({"Content-Encoding": "gzip"}, gzip.compress(_json(alert("zipped"))), id="gzip"),
        pytest.param(
            {"Content-Encoding": "deflate"}, zlib.compress(_json(alert("zipped"))), id="deflate-zlib"
        ),
        pytest.param(
            {"Content-Encoding": "deflate"},
            _raw_deflate(_json(alert("zipped"))),
            id="deflate-raw",
        ),
        pytest.param(
            {"Content-Type": "application/json; charset=utf-8"}, _json(alert("zipped")), id="charset"
        ),
        pytest.param({"Content-Type": "application/alert+json"}, _json(alert("zipped")), id="plus-json"),
    ],
)
async def test_intake_takes_json_compressed_or_with_parameters(
    server: Harness, headers: dict[str, str], body: bytes
) -> None:
    response = await server.client.post(
        "/api/v1/alerts", data=body, headers={**_JSON, **headers, **server.auth("gateway")}
    )

    assert response.status == 202, await response.text()
    assert (await response.json())["duplicate"] is False
    assert (await _snapshot(server))["counts"]["alert"] == 1


# Gateways' own formats ----------------------------------------------------------------------------

_CAP_ALERT = (Path(__file__).parents[1] / "gateways" / "fixtures" / "cap" / "yj_flood_alert.xml").read_text()
_DEEP_MARK = b'"__deep__"'


def _cap(**replace: str) -> bytes:
    """The recorded CAP flood alert with some text swapped (before → after)."""
    text = _CAP_ALERT
    for before, after in replace.items():
        assert before in text, before
        text = text.replace(before, after, 1)
    return text.encode()


def _cap_info_extra(xml: str) -> bytes:
    return _CAP_ALERT.replace("<headline>", xml + "<headline>", 1).encode()


def _am(*, status: str = "firing", deep: str | None = None, **fields: Any) -> bytes:
    """A recorded Alertmanager notification with fields of its first alert changed."""
    payload = am_payload("firing.json" if status == "firing" else "resolved.json")
    payload["alerts"][0].update(fields)
    if deep is not None:
        payload["alerts"][0][deep] = "__deep__"
    return _json(payload).replace(_DEEP_MARK, _deep(300))


def _frigate(*, deep: str | None = None, **after: Any) -> bytes:
    """A recorded Frigate `new` message with fields of `after` changed."""
    message = frigate_recorded("new")
    message["after"].update(after)
    if deep is not None:
        message["after"][deep] = "__deep__"
    return _json(message).replace(_DEEP_MARK, _deep(300))


@dataclass(frozen=True)
class Foreign:
    path: str
    body: bytes
    field: str
    content_type: str = "application/json"


GATEWAY_CASES = [
    # Times (the test clock reads 2026-09-21T14:13:20Z, intake.max_future_skew is 10 minutes)
    pytest.param(
        Foreign(
            "/api/v1/hotline/calls",
            _json(hotline_entry(received_at="9999-12-31T23:59:59-23:59")),
            "received_at",
        ),
        id="hotline-received-at-9999",
    ),
    pytest.param(
        Foreign(
            "/api/v1/hotline/calls",
            _json(hotline_telephony(occurred_at="1999-12-31T00:00:00Z")),
            "occurred_at",
        ),
        id="telephony-occurred-at-1999",
    ),
    pytest.param(
        Foreign(
            "/api/v1/hotline/calls",
            _json(hotline_telephony(occurred_at="2026-09-21T15:00:00Z")),
            "occurred_at",
        ),
        id="telephony-occurred-at-47-minutes-ahead",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/alertmanager", _am(startsAt="9999-12-31T23:59:59-23:59"), "alerts.0.startsAt"
        ),
        id="alertmanager-starts-at-9999",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/alertmanager", _am(startsAt="2026-07-01T00:00:15"), "alerts.0.startsAt"),
        id="alertmanager-starts-at-without-offset",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/alertmanager",
            _am(status="resolved", endsAt="2027-01-01T00:00:00Z"),
            "alerts.0.endsAt",
        ),
        id="alertmanager-resolved-ends-at-ahead",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/alertmanager", _am(endsAt="9999-12-31T23:59:59-23:59"), "alerts.0.endsAt"),
        id="alertmanager-firing-ends-at-9999",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap",
            _cap(**{"2026-07-01T08:00:00+08:00": "9999-12-31T23:59:59-23:59"}),
            "sent",
            "application/xml",
        ),
        id="cap-sent-9999",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap",
            _cap_info_extra("<expires>2099-01-01T00:00:00Z</expires>"),
            "info.expires",
            "application/xml",
        ),
        id="cap-expires-2099",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap", _cap_info_extra("<onset>soon</onset>"), "info.onset", "application/xml"
        ),
        id="cap-onset-not-a-time",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap",
            _cap_info_extra("<effective>1999-06-01T00:00:00Z</effective>"),
            "info.effective",
            "application/xml",
        ),
        id="cap-effective-1999",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(start_time=0), "after.start_time"),
        id="frigate-start-time-1970",
    ),
    # Strict types
    pytest.param(
        Foreign("/api/v1/hotline/calls", _json(hotline_entry(severity=True)), "severity"),
        id="hotline-severity-true",
    ),
    pytest.param(
        Foreign("/api/v1/hotline/calls", _json(hotline_entry(severity="1")), "severity"),
        id="hotline-severity-text",
    ),
    pytest.param(
        Foreign("/api/v1/hotline/calls", _json(hotline_entry(callback_wanted="yes")), "callback_wanted"),
        id="hotline-callback-wanted-text",
    ),
    pytest.param(
        Foreign("/api/v1/hotline/calls", _json(hotline_telephony(cell_radius_m="500")), "cell_radius_m"),
        id="telephony-cell-radius-text",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/alertmanager",
            _json({**am_payload("firing.json"), "truncatedAlerts": "0"}),
            "truncatedAlerts",
        ),
        id="alertmanager-truncated-alerts-text",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/alertmanager", _am(labels={"alertname": "x", "lat": 28.1}), "alerts.0.labels.lat"
        ),
        id="alertmanager-label-number",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(top_score=True), "after.top_score"),
        id="frigate-score-true",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(top_score="0.9"), "after.top_score"),
        id="frigate-score-text",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(false_positive=0), "after.false_positive"),
        id="frigate-false-positive-0",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(start_time="1790000000.4"), "after.start_time"),
        id="frigate-start-time-text",
    ),
    # Free-form values: depth and size
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(deep="sub_label"), "after.sub_label"),
        id="frigate-sub-label-300-deep",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(sub_label=["x" * 2000, 0.9]), "after.sub_label"),
        id="frigate-sub-label-2-kib",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(deep="region_data"), "after"),
        id="frigate-unknown-field-300-deep",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/alertmanager", _am(deep="extra"), "alerts.0"),
        id="alertmanager-unknown-field-300-deep",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/alertmanager",
            _am(annotations={"summary": "flood", "runbook": "x" * (17 * 1024)}),
            "alerts.0.annotations",
        ),
        id="alertmanager-annotations-17-kib",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap",
            _cap_info_extra(
                "<parameter><valueName>layer</valueName><value>" + "x" * (17 * 1024) + "</value></parameter>"
            ),
            "info.parameter",
            "application/xml",
        ),
        id="cap-parameter-17-kib",
    ),
    pytest.param(
        Foreign(
            "/api/v1/hotline/calls",
            _with_raw(hotline_entry(), "statement_extra", _deep(300)),
            "statement_extra",
        ),
        id="hotline-unknown-field-300-deep",
    ),
]


@pytest.fixture
async def gateways_server(make_server: ServerFactory) -> Harness:
    return await make_server(make_config(frigate=FRIGATE, cap=CAP, alertmanager=AM_SETTINGS))


@pytest.mark.parametrize("case", GATEWAY_CASES)
async def test_gateway_bad_message_is_refused_naming_the_field(
    gateways_server: Harness, case: Foreign
) -> None:
    server = gateways_server
    await server.post_alert(alert("good-1"))
    before = await _snapshot(server)

    response = await server.client.post(
        case.path, data=case.body, headers={"Content-Type": case.content_type, **server.auth("gateway")}
    )

    await _error(response, 422, "invalid", case.field)
    assert await _snapshot(server) == before


# What stays accepted at the edges of those rules --------------------------------------------------

ACCEPTED_AT_THE_EDGE = [
    # Exactly intake.max_future_skew (10 minutes) ahead of the test clock.
    pytest.param(
        Foreign("/api/v1/alerts", _json(alert("edge-1", observed_at="2026-09-21T14:23:20Z")), ""), id="skew"
    ),
    pytest.param(
        Foreign("/api/v1/alerts", _json(alert("edge-1", observed_at="2000-01-01T00:00:00Z")), ""),
        id="year-2000",
    ),
    pytest.param(
        Foreign("/api/v1/alerts", _with_raw(alert("edge-1"), "attributes", _deep(16)), ""), id="16-deep"
    ),
    pytest.param(
        Foreign("/api/v1/alerts", _json(alert("edge-1", location={"lat": 28, "lon": 112})), ""),
        id="whole-degrees",
    ),
    # Alertmanager's forecast of a firing alert's end, and CAP's expiry two days ahead.
    pytest.param(
        Foreign("/api/v1/alerts/alertmanager", _am(endsAt="2026-09-21T15:13:20Z"), ""),
        id="firing-ends-at-ahead",
    ),
    pytest.param(
        Foreign(
            "/api/v1/alerts/cap",
            _cap_info_extra("<expires>2026-09-23T14:00:00+08:00</expires>"),
            "",
            "application/xml",
        ),
        id="cap-expires-in-two-days",
    ),
    pytest.param(
        Foreign("/api/v1/alerts/frigate", _frigate(sub_label=["Bob", 0.92], score=1), ""),
        id="frigate-integer-score",
    ),
]


@pytest.mark.parametrize("case", ACCEPTED_AT_THE_EDGE)
async def test_gateway_message_at_the_edge_is_accepted(gateways_server: Harness, case: Foreign) -> None:
    response = await gateways_server.client.post(
        case.path,
        data=case.body,
        headers={"Content-Type": case.content_type, **gateways_server.auth("gateway")},
    )

    assert response.status in (200, 202), await response.text()
    assert (await _snapshot(gateways_server))["counts"]["alert"] >= (1 if response.status == 202 else 0)


async def test_intake_max_future_skew_is_configurable(make_server: ServerFactory) -> None:
    server = await make_server(make_config(intake={"max_future_skew": "1h"}))

    await server.post_alert(alert("ahead-50m", observed_at="2026-09-21T15:03:20Z"))
    response = await server.client.post(
        "/api/v1/alerts",
        json=alert("ahead-70m", observed_at="2026-09-21T15:23:20Z"),
        headers=server.auth("gateway"),
    )

    error = await _error(response, 422, "invalid", "observed_at")
    assert "3600 s ahead" in error["message"]
    assert (await _snapshot(server))["counts"]["alert"] == 1
