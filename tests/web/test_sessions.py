"""People's sessions over HTTP and the WebSocket: cookie, CSRF, expiry, logout, throttling, the CLI."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import websockets
import yaml
from pydantic import TypeAdapter

from dispatch.access import accounts
from dispatch.cli import main as cli
from dispatch.storage.tables import event_table, session_table, user_table
from tests.conftest import Harness
from tests.factories import WEST_N, alert, config_data
from web.errors import ErrorBody
from web.security import SESSION_CACHE_SECONDS

PASSWORD = "long-enough-1"
WAIT = 10.0  # a safety net against hangs, never a timing assertion


def add(server: Harness, name: str, role: str = "dispatcher", **scope: Any) -> None:
    accounts.add_user(
        server.runtime.write_engine,
        server.config,
        name=name,
        role=role,
        password=PASSWORD,
        now=time.time(),
        **scope,
    )


async def login(server: Harness, name: str, password: str = PASSWORD, **headers: str) -> Any:
    return await server.client.post(
        "/api/v1/session", json={"name": name, "password": password}, headers=headers
    )


async def logged_in(server: Harness, name: str) -> tuple[str, str]:
    """(the session cookie's value, its CSRF token)."""
    response = await login(server, name)
    assert response.status == 200, await response.text()
    body = await response.json()
    return response.cookies["dispatch_session"].value, body["csrf_token"]


async def audit(server: Harness) -> list[tuple[str, dict[str, Any]]]:
    def read(connection: sa.Connection) -> list[tuple[str, dict[str, Any]]]:
        rows = connection.execute(
            sa.select(event_table.c.type, event_table.c.payload)
            .where(event_table.c.type.like("user_%"))
            .order_by(event_table.c.seq)
        )
        return [(row.type, orjson.loads(row.payload)) for row in rows]

    return await server.runtime.read(read)


async def test_sessions_login_sets_a_strict_http_only_cookie_and_tells_who(server: Harness) -> None:
    add(server, "west-desk", jurisdiction="west")

    response = await login(server, "west-desk")

    assert response.status == 200
    body = await response.json()
    assert body["user"] == {
        "name": "west-desk",
        "role": "dispatcher",
        "jurisdiction": "west",
        "responder": None,
        "department": None,
        "unit_name": None,
    }
    assert body["home"] == "/console/"
    cookie = response.cookies["dispatch_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == int(server.config.sessions.ttl)
    assert cookie["path"] == "/"
    me = await server.client.get("/api/v1/session", cookies={"dispatch_session": cookie.value})
    assert (await me.json())["user"]["name"] == "west-desk"


async def test_sessions_cookie_sees_only_its_subtree(server: Harness) -> None:
    add(server, "east-desk", jurisdiction="east")
    west = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    cookie, _ = await logged_in(server, "east-desk")

    listed = await server.client.get("/api/v1/incidents", cookies={"dispatch_session": cookie})
    hidden = await server.client.get(f"/api/v1/incidents/{west}", cookies={"dispatch_session": cookie})

    assert (await listed.json())["total"] == 0
    assert hidden.status == 404


async def test_sessions_change_with_the_cookie_needs_the_csrf_token(server: Harness) -> None:
    add(server, "city-desk")
    incident = (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"]
    cookie, csrf = await logged_in(server, "city-desk")
    path = f"/api/v1/incidents/{incident}/escalate"

    missing = await server.client.post(path, json={"reason": "x"}, cookies={"dispatch_session": cookie})
    wrong = await server.client.post(
        path, json={"reason": "x"}, cookies={"dispatch_session": cookie}, headers={"X-CSRF-Token": "nope"}
    )
    right = await server.client.post(
        path, json={"reason": "y"}, cookies={"dispatch_session": cookie}, headers={"X-CSRF-Token": csrf}
    )

    assert (missing.status, wrong.status, right.status) == (403, 403, 200)
    assert (await missing.json())["error"]["code"] == "csrf"
    timeline = (await server.incident(incident))["timeline"]
    assert [
        event["payload"].get("reason") for event in timeline if event["type"] == "incident_escalated"
    ] == ["y"]


async def test_sessions_login_from_another_origin_is_refused(server: Harness) -> None:
    add(server, "city-desk")

    response = await login(server, "city-desk", Origin="http://evil.example")

    assert response.status == 403
    assert "dispatch_session" not in response.cookies
    assert await audit(server) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sessions_login_from_a_foreign_origin_naming_itself_in_host_is_refused(server: Harness) -> None:
    add(server, "city-desk")
    port = server.client.port
    foreign = {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"}

    refused = await login(server, "city-desk", **foreign)
    own = await login(server, "city-desk", Origin=f"http://127.0.0.1:{port}")

    assert refused.status == 403
    assert (await refused.json())["error"]["field"] == "Origin"
    assert "dispatch_session" not in refused.cookies
    assert own.status == 200, await own.text()
    assert "dispatch_session" in own.cookies


async def test_sessions_logout_ends_the_session_on_the_server(server: Harness) -> None:
    add(server, "city-desk")
    cookie, csrf = await logged_in(server, "city-desk")

    refused = await server.client.delete("/api/v1/session", cookies={"dispatch_session": cookie})
    ended = await server.client.delete(
        "/api/v1/session", cookies={"dispatch_session": cookie}, headers={"X-CSRF-Token": csrf}
    )
    after = await server.client.get("/api/v1/incidents", cookies={"dispatch_session": cookie})

    assert refused.status == 403  # a forged logout is a change too
    assert ended.status == 200 and (await ended.json()) == {"ended": True}
    assert after.status == 401
    assert [kind for kind, _ in await audit(server)] == ["user_logged_in", "user_logged_out"]


async def test_sessions_expire(server: Harness, clock: Any) -> None:
    add(server, "city-desk")
    cookie, _ = await logged_in(server, "city-desk")

    clock.advance(server.config.sessions.ttl + 1)
    response = await server.client.get("/api/v1/incidents", cookies={"dispatch_session": cookie})

    assert response.status == 401


async def test_sessions_five_wrong_passwords_slow_the_account_and_it_is_logged(
    server: Harness, clock: Any
) -> None:
    add(server, "city-desk")

    answers = [(await login(server, "city-desk", "wrong-password")).status for _ in range(5)]
    slowed = await login(server, "city-desk")
    clock.advance(server.config.sessions.lockout + 1)
    later = await login(server, "city-desk")

    assert answers == [401] * 5
    assert slowed.status == 429
    assert slowed.headers["Retry-After"] == str(int(server.config.sessions.lockout))
    # The refusal is the documented error body, its wait also in the body.
    refusal = TypeAdapter(ErrorBody).validate_json(await slowed.read(), strict=True)["error"]
    assert refusal["code"] == "too_many_attempts"
    assert refusal.get("retry_after") == int(slowed.headers["Retry-After"])
    assert later.status == 200
    events = await audit(server)
    assert [payload["reason"] for kind, payload in events if kind == "user_login_failed"] == [
        *["wrong_password"] * 5,
        "throttled",
    ]
    assert events[4][1]["locked_until"] is not None
    assert events[-1][0] == "user_logged_in"


async def test_sessions_unknown_name_and_disabled_account_are_refused_alike(server: Harness) -> None:
    add(server, "gone")
    accounts.disable_user(server.runtime.write_engine, "gone", now=time.time())

    unknown = await login(server, "nobody")
    disabled = await login(server, "gone")

    assert unknown.status == disabled.status == 401
    assert (await unknown.json()) == (await disabled.json())  # nothing tells which names exist
    assert [payload["reason"] for _, payload in await audit(server)] == ["unknown_user", "disabled"]


async def test_sessions_disable_and_passwd_end_sessions_within_seconds(server: Harness, clock: Any) -> None:
    add(server, "a")
    add(server, "b")
    cookie_a, _ = await logged_in(server, "a")
    cookie_b, _ = await logged_in(server, "b")

    # What `dispatch user disable` and `dispatch user passwd` do, from another process.
    accounts.disable_user(server.runtime.write_engine, "a", now=time.time())
    accounts.set_password(server.runtime.write_engine, "b", "another-password", now=time.time())
    clock.advance(SESSION_CACHE_SECONDS + 1)

    a = await server.client.get("/api/v1/session", cookies={"dispatch_session": cookie_a})
    b = await server.client.get("/api/v1/session", cookies={"dispatch_session": cookie_b})

    assert (a.status, b.status) == (401, 401)
    assert (await login(server, "b", "another-password")).status == 200


async def test_sessions_websocket_takes_the_cookie_and_logout_closes_it(server: Harness) -> None:
    add(server, "city-desk")
    cookie, csrf = await logged_in(server, "city-desk")
    url = str(server.client.make_url("/ws")).replace("http://", "ws://")
    origin = str(server.client.make_url("/")).rstrip("/")

    async with websockets.connect(
        url, additional_headers={"Cookie": f"dispatch_session={cookie}", "Origin": origin}
    ) as ws:
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert (hello["type"], hello["name"], hello["role"]) == ("hello", "city-desk", "dispatcher")
        ended = await server.client.delete(
            "/api/v1/session", cookies={"dispatch_session": cookie}, headers={"X-CSRF-Token": csrf}
        )
        assert ended.status == 200
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_sessions_store_only_hashes(server: Harness) -> None:
    add(server, "city-desk")
    cookie, _ = await logged_in(server, "city-desk")

    def read(connection: sa.Connection) -> list[str]:
        users = connection.execute(sa.select(user_table)).mappings().all()
        sessions = connection.execute(sa.select(session_table)).mappings().all()
        return [str(value) for row in [*users, *sessions] for value in row.values()]

    stored = await server.runtime.read(read)

    assert all(PASSWORD not in value and cookie not in value for value in stored)
    assert any(value.startswith("$argon2id$") for value in stored)


# The CLI ----------------------------------------------------------------------------------------


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    return path


async def test_sessions_cli_user_add_then_login(
    server: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config_file(tmp_path))
    database = server.runtime.database_url
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))

    code = cli.main(
        [
            "user",
            "add",
            "zhang",
            "--role",
            "responder",
            "--responder",
            "grid-west-n-1",
            "--password-stdin",
            "--config",
            config,
            "--database",
            database,
        ]
    )

    assert code == 0
    response = await login(server, "zhang", "a-good-password")
    assert (await response.json())["home"] == "/tablet/"
    assert cli.main(["user", "list", "--config", config, "--database", database]) == 0
    assert "zhang\tresponder\tgrid-west-n-1\tactive" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "stdin", "complaint"),
    [
        (("wang", "--role", "mayor"), "a-good-password", "--role must be one of"),
        (("wang", "--role", "gateway"), "a-good-password", "--role must be one of"),
        (("wang", "--role", "responder"), "a-good-password", "--responder is required"),
        (("wang", "--role", "responder", "--responder", "grid-nowhere"), "a-good-password", "grid-nowhere"),
        (("wang", "--role", "dispatcher", "--jurisdiction", "atlantis"), "a-good-password", "atlantis"),
        (("wang", "--role", "dispatcher"), "short", "at least 8"),
        (("wang zhang", "--role", "dispatcher"), "a-good-password", "NAME"),
    ],
)
async def test_sessions_cli_user_add_refuses_in_words(
    server: Harness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    stdin: str,
    complaint: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))

    code = cli.main(
        [
            "user",
            "add",
            *args,
            "--password-stdin",
            "--config",
            str(_config_file(tmp_path)),
            "--database",
            server.runtime.database_url,
        ]
    )

    assert code == 2
    assert complaint in capsys.readouterr().err
