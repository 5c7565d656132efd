"""Tokens: expiry, revocation (from another process, noticed by the running server), the list, the log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import websockets
import yaml

from dispatch.access import accounts
from dispatch.access.auth import hash_token, issue_token, token_id
from dispatch.cli import main as cli
from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import event_table, token_table
from tests.conftest import AUDIT_KEY, Harness
from tests.factories import config_data
from web.security import CACHE_SECONDS, SESSION_CACHE_SECONDS

WAIT = 10.0  # a safety net against hangs, never a timing assertion
PASSWORD = "long-enough-1"


def _ws_url(server: Harness) -> str:
    return str(server.client.make_url("/ws")).replace("http://", "ws://")


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    return str(path)


def _issue(server: Harness, name: str, **kwargs: Any) -> str:
    return issue_token(
        server.runtime.write_engine,
        server.config,
        role="dispatcher",
        name=name,
        now=server.runtime.clock.now(),
        **kwargs,
    )


async def _incidents(server: Harness, token: str) -> tuple[int, Any]:
    response = await server.client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def _token_events(server: Harness) -> list[tuple[str, str, dict[str, Any]]]:
    def read(connection: sa.Connection) -> list[tuple[str, str, dict[str, Any]]]:
        rows = connection.execute(
            sa.select(event_table.c.type, event_table.c.actor, event_table.c.payload)
            .where(event_table.c.type.like("token_%"))
            .order_by(event_table.c.seq)
        )
        return [(row.type, row.actor, orjson.loads(row.payload)) for row in rows]

    return await server.runtime.read(read)


async def test_tokens_expired_token_is_refused_with_401_saying_so(
    server: Harness, clock: ManualClock
) -> None:
    token = _issue(server, "night-shift", expires_in=3600)

    before = await _incidents(server, token)
    clock.advance(3601)
    after = await _incidents(server, token)

    assert before[0] == 200
    assert after[0] == 401
    assert after[1]["error"]["code"] == "token_expired"
    assert after[1]["error"]["message"].startswith("token expired")


async def test_tokens_expired_token_cannot_open_a_socket(server: Harness, clock: ManualClock) -> None:
    token = _issue(server, "night-shift", expires_in=60)
    clock.advance(61)

    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(_ws_url(server), additional_headers={"Authorization": f"Bearer {token}"})

    assert refused.value.response.status_code == 401
    assert orjson.loads(refused.value.response.body or b"")["error"]["code"] == "token_expired"


async def test_tokens_revoke_refuses_the_token_and_closes_its_sockets(
    server: Harness, clock: ManualClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = server.runtime.database_url
    config = _config_file(tmp_path)
    assert (
        cli.main(
            [
                "token",
                "issue",
                "--role",
                "dispatcher",
                "--name",
                "desk-7",
                "--config",
                config,
                "--database",
                database,
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()
    kept = _issue(server, "desk-8")
    async with (
        websockets.connect(
            _ws_url(server), additional_headers={"Authorization": f"Bearer {token}"}
        ) as by_header,
        websockets.connect(_ws_url(server)) as by_message,
    ):
        await by_message.send(orjson.dumps({"type": "auth", "token": token}).decode())
        assert orjson.loads(await asyncio.wait_for(by_header.recv(), WAIT))["type"] == "hello"
        assert orjson.loads(await asyncio.wait_for(by_message.recv(), WAIT))["type"] == "hello"
        assert (await _incidents(server, token))[0] == 200

        # From another process, as an operator would; the running server notices on its own.
        assert cli.main(["token", "revoke", "desk-7", "--database", database]) == 0
        clock.advance(CACHE_SECONDS + 1)

        closes = []
        for ws in (by_header, by_message):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), WAIT)
            closes.append((closed.value.rcvd.code, closed.value.rcvd.reason) if closed.value.rcvd else None)

    assert closes == [(4401, "token revoked"), (4401, "token revoked")]
    status, body = await _incidents(server, token)
    assert status == 401
    assert body["error"]["code"] == "token_revoked"
    assert body["error"]["message"].startswith("token revoked")
    assert (await _incidents(server, kept))[0] == 200
    capsys.readouterr()
    assert cli.main(["token", "list", "--database", database]) == 0
    listed = {line.split("\t")[1]: line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed["desk-7"][0] == token_id(hash_token(token))
    assert listed["desk-7"][7].startswith("revoked ")
    assert listed["desk-7"][6] != "-"  # last used: it opened the sockets
    assert listed["desk-8"][7] == "active"
    assert token not in str(listed)
    events = [(kind, payload["name"]) for kind, _, payload in await _token_events(server)]
    assert ("token_issued", "desk-7") in events
    assert events.index(("token_issued", "desk-7")) < events.index(("token_revoked", "desk-7"))


async def test_tokens_issue_and_revoke_are_in_the_log_with_who_did_it(
    make_server: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine_for: Any,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config_file(tmp_path)
    args = ["--config", config, "--database", database_url]
    assert (
        cli.main(["token", "issue", "--role", "gateway", "--name", "gauges", "--expires", "90d", *args]) == 0
    )
    assert cli.main(["token", "revoke", "gauges", "--database", database_url]) == 0
    capsys.readouterr()

    server = await make_server()  # a start chains what the commands left while it was down
    events = await _token_events(server)

    assert [(kind, payload["name"], payload["role"]) for kind, _, payload in events] == [
        ("token_issued", "gauges", "gateway"),
        ("token_revoked", "gauges", "gateway"),
    ]
    assert all(actor.startswith("cli:") for _, actor, _ in events)
    with engine_for(database_url).connect() as connection:
        row = (
            connection.execute(sa.select(token_table).where(token_table.c.name == "gauges")).mappings().one()
        )
    assert events[0][2]["token"] == token_id(row["hash"])
    assert row["expires_at"] == pytest.approx(row["created_at"] + 90 * 86400)
    monkeypatch.setenv("DISPATCH_AUDIT_KEY", AUDIT_KEY.secret.decode())  # the server's key
    assert cli.main(["audit", "verify", "--database", database_url]) == 0


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["issue", "--role", "gateway", "--name", "g", "--expires", "soon"], "--expires: not a duration"),
        (["revoke", "nobody"], "no token with id or name 'nobody'"),
    ],
)
async def test_tokens_cli_refuses_in_words(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    code = cli.main(
        ["token", *args, "--config", _config_file(tmp_path), "--database", server.runtime.database_url]
    )

    assert code == 2
    assert complaint in capsys.readouterr().err


async def test_tokens_revoke_by_a_name_two_tokens_share_is_refused(
    server: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _issue(server, "twins"), _issue(server, "twins")
    database = server.runtime.database_url

    assert cli.main(["token", "revoke", "twins", "--database", database]) == 2
    assert "2 tokens are named 'twins'" in capsys.readouterr().err
    assert cli.main(["token", "revoke", token_id(hash_token(first)), "--database", database]) == 0

    assert (await _incidents(server, first))[0] == 401
    assert (await _incidents(server, second))[0] == 200


async def test_tokens_a_disabled_account_s_open_socket_is_closed(server: Harness, clock: ManualClock) -> None:
    accounts.add_user(
        server.runtime.write_engine,
        server.config,
        name="city-desk",
        role="dispatcher",
        password=PASSWORD,
        now=0,
    )
    login = await server.client.post("/api/v1/session", json={"name": "city-desk", "password": PASSWORD})
    cookie = login.cookies["dispatch_session"].value
    origin = str(server.client.make_url("/")).rstrip("/")

    async with websockets.connect(
        _ws_url(server), additional_headers={"Cookie": f"dispatch_session={cookie}", "Origin": origin}
    ) as ws:
        assert orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "hello"
        accounts.disable_user(server.runtime.write_engine, "city-desk", now=0)  # another process
        clock.advance(SESSION_CACHE_SECONDS + 1)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), WAIT)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
