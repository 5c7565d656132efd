"""Admins log in with a password and the current code of their authenticator app (TOTP)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson
import pytest
import sqlalchemy as sa
import yaml

from dispatch.access import accounts
from dispatch.access.second_factor import code_at
from dispatch.cli import main as cli
from dispatch.shared.clock import ManualClock
from dispatch.storage.tables import event_table, user_table
from tests.conftest import Harness
from tests.factories import config_data

PASSWORD = "long-enough-1"


def _admin(server: Harness, name: str = "ops") -> str:
    secret = accounts.add_user(
        server.runtime.write_engine, server.config, name=name, role="admin", password=PASSWORD, now=0
    )
    assert secret is not None
    return secret


async def _login(server: Harness, password: str = PASSWORD, **more: Any) -> tuple[int, Any]:
    response = await server.client.post("/api/v1/session", json={"name": "ops", "password": password, **more})
    return response.status, await response.json()


def _wrong(secret: str, now: float) -> str:
    return f"{(int(code_at(secret, now)) + 1) % 1_000_000:06d}"


async def _stored(server: Harness) -> tuple[int, list[str]]:
    """The account's wrong attempts in a row, and the reasons of its logged failures."""

    def read(connection: sa.Connection) -> tuple[int, list[str]]:
        failures = connection.execute(
            sa.select(user_table.c.failed_logins).where(user_table.c.name == "ops")
        ).scalar_one()
        payloads = connection.execute(
            sa.select(event_table.c.payload)
            .where(event_table.c.type == "user_login_failed")
            .order_by(event_table.c.seq)
        ).scalars()
        return failures, [orjson.loads(payload)["reason"] for payload in payloads]

    return await server.runtime.read(read)


async def test_second_factor_admin_without_code_is_asked_for_it(server: Harness, clock: ManualClock) -> None:
    _admin(server)

    status, body = await _login(server)

    assert status == 401
    assert body["error"]["code"] == "totp_required"
    assert body["error"]["field"] == "totp"
    assert await _stored(server) == (0, ["totp_required"])  # asked, not counted


async def test_second_factor_wrong_password_says_nothing_of_the_code(server: Harness) -> None:
    _admin(server)

    status, body = await _login(server, "not-the-password")

    assert (status, body["error"]["code"]) == (401, "wrong_credentials")


async def test_second_factor_wrong_code_is_refused_and_counted(server: Harness, clock: ManualClock) -> None:
    secret = _admin(server)
    status, body = await _login(server, totp=_wrong(secret, clock.now()))

    assert status == 401
    assert body["error"]["code"] == "wrong_totp"
    assert await _stored(server) == (1, ["wrong_totp"])


async def test_second_factor_wrong_codes_slow_the_account_down(server: Harness, clock: ManualClock) -> None:
    secret = _admin(server)
    for _ in range(server.config.sessions.max_failed_logins):
        assert (await _login(server, totp=_wrong(secret, clock.now())))[0] == 401

    status, body = await _login(server, totp=code_at(secret, clock.now()))

    assert status == 429
    assert body["error"]["code"] == "too_many_attempts"


async def test_second_factor_right_code_opens_a_session_once(server: Harness, clock: ManualClock) -> None:
    secret = _admin(server)
    code = code_at(secret, clock.now())

    status, body = await _login(server, totp=code)
    again = await _login(server, totp=code)  # the same code seen twice: someone looked over a shoulder
    clock.advance(30)
    later = await _login(server, totp=code_at(secret, clock.now()))

    assert status == 200
    assert body["user"]["role"] == "admin"
    assert (again[0], again[1]["error"]["code"]) == (401, "wrong_totp")
    assert later[0] == 200


async def test_second_factor_code_of_the_previous_step_still_counts(
    server: Harness, clock: ManualClock
) -> None:
    secret = _admin(server)
    code = code_at(secret, clock.now())
    clock.advance(30)

    assert (await _login(server, totp=code))[0] == 200


async def test_second_factor_admin_never_enrolled_is_told_how(server: Harness, engine_for: Any) -> None:
    _admin(server)
    with engine_for(server.runtime.database_url).begin() as connection:  # an account from before
        connection.execute(user_table.update().values(totp_secret=None))

    status, body = await _login(server, totp="123456")

    assert (status, body["error"]["code"]) == (401, "totp_not_enrolled")
    assert "dispatch user totp-reset" in body["error"]["message"]


async def test_second_factor_others_need_no_code(server: Harness) -> None:
    accounts.add_user(
        server.runtime.write_engine, server.config, name="ops", role="dispatcher", password=PASSWORD, now=0
    )

    assert (await _login(server))[0] == 200


# The CLI ----------------------------------------------------------------------------------------


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True), encoding="utf-8")
    return str(path)


def _shown_secret(output: str) -> str:
    uri = re.search(r"otpauth://\S+", output)
    assert uri is not None, output
    parsed = urlparse(uri.group(0))
    assert (parsed.scheme, parsed.netloc, parsed.path) == ("otpauth", "totp", "/dispatch:ops")
    [secret] = parse_qs(parsed.query)["secret"]
    assert f"secret: {secret}" in output
    return secret


async def test_second_factor_cli_enrols_admins_and_resets(
    server: Harness,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--config", _config_file(tmp_path), "--database", server.runtime.database_url]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["user", "add", "ops", "--role", "admin", "--password-stdin", *args]) == 0
    first = _shown_secret(capsys.readouterr().out)
    assert (await _login(server, totp=code_at(first, clock.now())))[0] == 200

    assert cli.main(["user", "totp-reset", "ops", *args]) == 0
    second = _shown_secret(capsys.readouterr().out)
    clock.advance(30)

    assert second != first
    assert (await _login(server, totp=code_at(first, clock.now())))[0] == 401
    assert (await _login(server, totp=code_at(second, clock.now())))[0] == 200


async def test_second_factor_cli_reset_refuses_a_dispatcher(
    server: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts.add_user(
        server.runtime.write_engine, server.config, name="desk", role="dispatcher", password=PASSWORD, now=0
    )

    code = cli.main(["user", "totp-reset", "desk", "--database", server.runtime.database_url])

    assert code == 2
    assert "only admin accounts have a second factor" in capsys.readouterr().err
