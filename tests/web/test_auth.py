"""Role and jurisdiction gates: who may call what, and over which subtree."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from aiohttp import ClientResponse, web

from dispatch.cli import main as cli
from dispatch.storage.tables import event_table, incident_table, task_table, token_table
from tests.conftest import Harness
from tests.factories import EAST_N, WEST_N, alert, config_data

# Open to anyone: health, the API's description with its page; /metrics is for admins.
PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/api/openapi.json",
    "/api/docs",
    # The people's pages are shells without data; their scripts ask the API, which checks.
    "/",
    "/console/",
    "/console/report",
    "/tablet/",
    "/tablet/sw.js",
    "/tablet/manifest.webmanifest",
    "/screen/",
    "/ui/i18n/{language}.json",
    # Logging in is how a person gets a session; who-am-I answers 401 itself.
    "/api/v1/session",
}

WEST_DISPATCHER = {"role": "dispatcher", "name": "west-desk", "jurisdiction": "west"}
CITY_DISPATCHER = {"role": "dispatcher", "name": "city-desk", "jurisdiction": "city"}
ADMIN = {"role": "admin"}
GATEWAY = {"role": "gateway", "name": "gauges"}
RESPONDER = {"role": "responder", "name": "grid-west-n-1", "responder": "grid-west-n-1"}


async def _refused(response: ClientResponse, status: int) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json", text
    body: dict[str, Any] = await response.json()
    assert body["error"]["code"] == {401: "unauthorized", 403: "forbidden", 404: "not_found"}[status]
    assert body["error"]["message"]
    return body["error"]


async def _rows(server: Harness, table: sa.Table) -> list[dict[str, Any]]:
    return await server.runtime.read(
        lambda connection: [dict(row) for row in connection.execute(sa.select(table)).mappings()]
    )


@pytest.fixture
async def two_towns(server: Harness) -> dict[str, int]:
    """One incident in west-n and one in east-n, each with a pending task for its street."""
    west = await server.post_alert(alert("w1", source="gauge-west", location=WEST_N))
    east = await server.post_alert(alert("e1", source="gauge-east", location=EAST_N))
    assert west["incident_id"] != east["incident_id"]
    return {"west": west["incident_id"], "east": east["incident_id"]}


# Without a token ------------------------------------------------------------------------------

ENDPOINTS = [
    ("POST", "/api/v1/alerts"),
    ("POST", "/api/v1/alerts/cap"),
    ("POST", "/api/v1/alerts/alertmanager"),
    ("POST", "/api/v1/alerts/frigate"),
    ("POST", "/api/v1/hotline/calls"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/1"),
    ("POST", "/api/v1/incidents/1/resolve"),
    ("POST", "/api/v1/tasks/1/accept"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/responders"),
    ("GET", "/ws"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_auth_no_token_is_401_with_challenge(
    server: Harness, two_towns: dict[str, int], method: str, path: str
) -> None:
    before = await _rows(server, incident_table)

    response = await server.client.request(method, path, json=alert("x1"))

    error = await _refused(response, 401)
    assert error["field"] == "Authorization"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await _rows(server, incident_table) == before


@pytest.mark.parametrize("token", [None, "dsp_unknown"])
async def test_auth_unknown_path_is_404_with_or_without_a_token(server: Harness, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = await server.client.get("/api/v1/nowhere", headers=headers)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_auth_every_route_but_the_public_ones_needs_a_token(server: Harness) -> None:
    answers: dict[str, int] = {}
    for route in server.client.app.router.routes():
        if route.method == "HEAD" or route.resource is None or isinstance(route.resource, web.StaticResource):
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter", "")
        if path in PUBLIC_PATHS:
            continue
        url = (
            path.replace("{id}", "1")
            .replace("{trigger}", "resolve")
            .replace("{identifier}", "yiyang.instr.1")
        )
        response = await server.client.request(route.method, url)
        answers[f"{route.method} {url}"] = response.status

    assert answers
    assert answers == dict.fromkeys(answers, 401)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_auth_health_answers_without_a_token(server: Harness, path: str) -> None:
    response = await server.client.get(path)

    assert response.status == 200, await response.text()


# Gateways and responders ----------------------------------------------------------------------


async def test_auth_gateway_may_post_alerts(server: Harness) -> None:
    response = await server.client.post("/api/v1/alerts", json=alert("g1"), headers=server.auth(**GATEWAY))

    assert response.status == 202, await response.text()


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("gateway", "GET", "/api/v1/incidents"),
        ("gateway", "GET", "/api/v1/incidents/{west}"),
        ("gateway", "POST", "/api/v1/incidents/{west}/resolve"),
        ("gateway", "POST", "/api/v1/tasks/1/accept"),
        ("gateway", "GET", "/api/v1/events"),
        ("gateway", "GET", "/api/v1/responders"),
        ("responder", "POST", "/api/v1/alerts"),
        ("responder", "GET", "/api/v1/incidents"),
        ("responder", "GET", "/api/v1/incidents/{west}"),
        ("responder", "POST", "/api/v1/incidents/{west}/resolve"),
        ("responder", "GET", "/api/v1/events"),
        ("responder", "GET", "/api/v1/responders"),
    ],
)
async def test_auth_role_may_not_call_route(
    server: Harness, two_towns: dict[str, int], role: str, method: str, path: str
) -> None:
    who = {"gateway": GATEWAY, "responder": RESPONDER}[role]
    before = {table.name: await _rows(server, table) for table in (incident_table, task_table, event_table)}

    response = await server.client.request(
        method, path.format(**two_towns), json=alert("r1"), headers=server.auth(**who)
    )

    await _refused(response, 403)
    after = {table.name: await _rows(server, table) for table in (incident_table, task_table, event_table)}
    assert after == before


async def _task_of(server: Harness, incident_id: int) -> dict[str, Any]:
    task: dict[str, Any] = (await server.incident(incident_id))["tasks"][0]
    return task


async def test_auth_responder_acts_on_its_own_task(server: Harness, two_towns: dict[str, int]) -> None:
    task = await _task_of(server, two_towns["west"])
    assert task["responder_id"] == "grid-west-n-1"

    answer = await server.task_trigger(task["id"], "accept", "grid-west-n-1")

    assert answer["state"] == "accepted"


async def test_auth_responder_gets_404_for_another_responders_task(
    server: Harness, two_towns: dict[str, int]
) -> None:
    task = await _task_of(server, two_towns["east"])
    assert task["responder_id"] == "grid-east-n-1"

    response = await server.client.post(
        f"/api/v1/tasks/{task['id']}/accept", headers=server.auth(**RESPONDER)
    )

    await _refused(response, 404)
    assert await _task_of(server, two_towns["east"]) == task


async def test_auth_responder_404_looks_like_a_missing_task(
    server: Harness, two_towns: dict[str, int]
) -> None:
    task = await _task_of(server, two_towns["east"])

    others = await server.client.post(f"/api/v1/tasks/{task['id']}/accept", headers=server.auth(**RESPONDER))
    missing = await server.client.post("/api/v1/tasks/999/accept", headers=server.auth(**RESPONDER))

    other_error = await _refused(others, 404)
    missing_error = await _refused(missing, 404)
    assert other_error["message"].replace(str(task["id"]), "N") == missing_error["message"].replace(
        "999", "N"
    )


# Jurisdiction scope ---------------------------------------------------------------------------


async def _incident_ids(server: Harness, who: dict[str, str], query: str = "") -> list[int]:
    response = await server.client.get(f"/api/v1/incidents{query}", headers=server.auth(**who))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["total"] == len(body["incidents"])
    return sorted(incident["id"] for incident in body["incidents"])


@pytest.mark.parametrize(
    ("who", "visible"),
    [(WEST_DISPATCHER, ["west"]), (CITY_DISPATCHER, ["west", "east"]), (ADMIN, ["west", "east"])],
    ids=["west", "city", "admin"],
)
async def test_auth_dispatcher_lists_incidents_of_its_subtree(
    server: Harness, two_towns: dict[str, int], who: dict[str, str], visible: list[str]
) -> None:
    assert await _incident_ids(server, who) == sorted(two_towns[town] for town in visible)


async def test_auth_town_dispatcher_filter_cannot_widen_scope(
    server: Harness, two_towns: dict[str, int]
) -> None:
    assert await _incident_ids(server, WEST_DISPATCHER, "?jurisdiction=east") == []
    assert await _incident_ids(server, WEST_DISPATCHER, "?jurisdiction=city") == [two_towns["west"]]


@pytest.mark.parametrize(
    ("who", "town"),
    [(WEST_DISPATCHER, "west"), (CITY_DISPATCHER, "west"), (CITY_DISPATCHER, "east"), (ADMIN, "east")],
    ids=["west-west", "city-west", "city-east", "admin-east"],
)
async def test_auth_dispatcher_opens_incident_in_its_subtree(
    server: Harness, two_towns: dict[str, int], who: dict[str, str], town: str
) -> None:
    response = await server.client.get(f"/api/v1/incidents/{two_towns[town]}", headers=server.auth(**who))

    assert response.status == 200, await response.text()
    assert (await response.json())["id"] == two_towns[town]


async def test_auth_town_dispatcher_gets_404_for_other_towns_incident(
    server: Harness, two_towns: dict[str, int]
) -> None:
    east = two_towns["east"]

    response = await server.client.get(f"/api/v1/incidents/{east}", headers=server.auth(**WEST_DISPATCHER))
    missing = await server.client.get("/api/v1/incidents/999", headers=server.auth(**WEST_DISPATCHER))

    error = await _refused(response, 404)
    await _refused(missing, 404)
    assert error["field"] == "id"


@pytest.mark.parametrize(
    ("trigger", "body"),
    [
        ("resolve", {"reason": "not mine"}),
        ("cancel", None),
        ("escalate", None),
        ("assign", {"responder_id": "duty-west-1"}),
        ("close", None),
    ],
)
async def test_auth_town_dispatcher_cannot_trigger_other_towns_incident(
    server: Harness, two_towns: dict[str, int], trigger: str, body: Any
) -> None:
    before = {table.name: await _rows(server, table) for table in (incident_table, task_table, event_table)}

    response = await server.client.post(
        f"/api/v1/incidents/{two_towns['east']}/{trigger}", json=body, headers=server.auth(**WEST_DISPATCHER)
    )

    await _refused(response, 404)
    after = {table.name: await _rows(server, table) for table in (incident_table, task_table, event_table)}
    assert after == before


async def test_auth_town_dispatcher_cannot_cancel_other_towns_task(
    server: Harness, two_towns: dict[str, int]
) -> None:
    task = await _task_of(server, two_towns["east"])

    response = await server.client.post(
        f"/api/v1/tasks/{task['id']}/cancel", headers=server.auth(**WEST_DISPATCHER)
    )

    await _refused(response, 404)
    assert await _task_of(server, two_towns["east"]) == task


@pytest.mark.parametrize("who", [CITY_DISPATCHER, ADMIN], ids=["city", "admin"])
async def test_auth_city_dispatcher_and_admin_trigger_any_town(
    server: Harness, two_towns: dict[str, int], who: dict[str, str]
) -> None:
    answer = await server.incident_trigger(two_towns["east"], "resolve", {"reason": "pumped out"}, **who)

    assert answer["state"] == "resolved"


async def _event_incidents(server: Harness, who: dict[str, str]) -> set[int | None]:
    response = await server.client.get("/api/v1/events", headers=server.auth(**who))
    assert response.status == 200, await response.text()
    return {event["incident_id"] for event in (await response.json())["events"]}


@pytest.mark.parametrize(
    ("who", "visible"),
    [(WEST_DISPATCHER, ["west"]), (CITY_DISPATCHER, ["west", "east"]), (ADMIN, ["west", "east"])],
    ids=["west", "city", "admin"],
)
async def test_auth_events_are_scoped_like_incidents(
    server: Harness, two_towns: dict[str, int], who: dict[str, str], visible: list[str]
) -> None:
    seen = await _event_incidents(server, who)
    # Events of no incident (units' status, logins, tokens) are the admin's audit trail alone.
    assert seen == {two_towns[town] for town in visible} | ({None} if who == ADMIN else set())


async def test_auth_town_dispatcher_never_sees_events_of_other_town_after_escalation(
    server: Harness, two_towns: dict[str, int]
) -> None:
    # Escalating the east incident to the city does not bring it into the west town's view.
    await server.incident_trigger(two_towns["east"], "escalate", {"reason": "needs the city"})
    await server.incident_trigger(two_towns["east"], "escalate", {"reason": "needs the city"})

    assert await _event_incidents(server, WEST_DISPATCHER) == {two_towns["west"]}
    assert await _incident_ids(server, WEST_DISPATCHER) == [two_towns["west"]]


@pytest.mark.parametrize(
    ("who", "units"),
    [
        (WEST_DISPATCHER, {"grid-west-n-1", "grid-west-n-2", "grid-west-s-1", "duty-west-1"}),
        (CITY_DISPATCHER, {r["id"] for r in config_data()["responders"]}),
    ],
    ids=["west", "city"],
)
async def test_auth_responders_are_scoped_like_incidents(
    server: Harness, who: dict[str, str], units: set[str]
) -> None:
    response = await server.client.get("/api/v1/responders", headers=server.auth(**who))

    assert response.status == 200, await response.text()
    assert {unit["id"] for unit in (await response.json())["responders"]} == units


# Tokens ---------------------------------------------------------------------------------------


async def test_auth_tokens_are_stored_hashed(server: Harness) -> None:
    token = server.token("dispatcher", "west-desk", jurisdiction="west")

    rows = await _rows(server, token_table)

    assert [row["hash"] for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for row in rows for value in row.values())


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    return path


def _issue(database_url: str, config: Path, *args: str) -> list[str]:
    return ["token", "issue", "--database", database_url, "--config", str(config), *args]


async def test_auth_cli_token_works_on_the_server(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _issue(
        server.runtime.database_url,
        _config_file(tmp_path),
        *("--role", "dispatcher", "--name", "west-desk", "--jurisdiction", "west"),
    )

    assert cli.main(argv) == 0

    token = capsys.readouterr().out.strip()
    assert token
    response = await server.client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, await response.text()
    rows = await _rows(server, token_table)
    assert [row["hash"] for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert rows[0]["jurisdiction_id"] == "west"


async def test_auth_cli_responder_token_acts_on_own_task(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = (await server.incident((await server.post_alert(alert("w1")))["incident_id"]))["tasks"][0]["id"]
    argv = _issue(
        server.runtime.database_url,
        _config_file(tmp_path),
        *("--role", "responder", "--name", "Li Wei", "--responder", "grid-west-n-1"),
    )

    assert cli.main(argv) == 0

    token = capsys.readouterr().out.strip()
    response = await server.client.post(
        f"/api/v1/tasks/{task_id}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("--role", "mayor", "--name", "x"), "--role"),
        (("--role", "responder", "--name", "x", "--responder", "grid-nowhere-9"), "grid-nowhere-9"),
        (("--role", "responder", "--name", "x"), "--responder"),
        (("--role", "dispatcher", "--name", "x", "--jurisdiction", "atlantis"), "atlantis"),
        (("--role", "gateway", "--name", "x", "--responder", "grid-west-n-1"), "--responder"),
    ],
    ids=["unknown-role", "unknown-responder", "responder-without-unit", "unknown-jurisdiction", "stray-unit"],
)
async def test_auth_cli_refuses_bad_token_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], complaint: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'x.db'}"

    code = cli.main(_issue(database_url, _config_file(tmp_path), *args))

    assert code == 2
    output = capsys.readouterr()
    assert output.out == ""
    assert complaint in output.err
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(token_table)).scalar() == 0
    finally:
        engine.dispose()
