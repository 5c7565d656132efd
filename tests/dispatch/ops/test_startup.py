"""`dispatch serve` as a real process: a start-up problem is one line with its fix, never a traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import AUDIT_KEY, POSTGRES_ADMIN_URL
from tests.factories import config_data

pytestmark = pytest.mark.slow

DISPATCH = [sys.executable, "-m", "dispatch"]
PREVIOUS = Path(__file__).parents[3] / "tests" / "fixtures" / "previous_release"
POSTGRES = sa.engine.make_url(POSTGRES_ADMIN_URL)


def _postgres(user: str = "postgres", name: str = "postgres", port: int | None = None) -> str:
    return f"postgresql://{user}@{POSTGRES.host}:{port or POSTGRES.port or 5432}/{name}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config_data(), allow_unicode=True))
    return path


async def _serve(*args: str, audit_key: bool = True) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *DISPATCH,
        "serve",
        "--host",
        "127.0.0.1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # PostgreSQL needs an audit key before the database is even tried (docs/audit.md).
        env={**os.environ, "DISPATCH_AUDIT_KEY": AUDIT_KEY.secret.decode()}
        if audit_key
        else {name: value for name, value in os.environ.items() if name != "DISPATCH_AUDIT_KEY"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _assert_one_line(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for fragment in fragments:
        assert fragment in err, err


async def test_startup_busy_port_is_one_line_and_creates_nothing(config_file: Path, tmp_path: Path) -> None:
    database_file = tmp_path / "dispatch.db"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        code, out, err = await _serve(
            "--config", str(config_file), "--database", f"sqlite:///{database_file}", "--port", str(port)
        )

    _assert_one_line(
        code, err, f"port {port} on 127.0.0.1 is already in use", "choose another port with --port"
    )
    assert out == ""  # no admin token shown (and so none spent), no "serving on"
    assert not database_file.exists()


async def test_startup_busy_metrics_port_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    database_file = tmp_path / "dispatch.db"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config_file = tmp_path / "config.yaml"
        config_file.write_text(
            yaml.safe_dump({**config_data(), "metrics": {"listen": f"127.0.0.1:{port}"}}, allow_unicode=True)
        )

        code, out, err = await _serve(
            "--config", str(config_file), "--database", f"sqlite:///{database_file}", "--port", "0"
        )

    _assert_one_line(
        code, err, f"metrics.listen: port {port} on 127.0.0.1 is already in use", "change metrics.listen"
    )
    assert out == ""
    assert not database_file.exists()


@pytest.mark.parametrize(
    ("database_url", "fragments"),
    [
        pytest.param(
            lambda: _postgres(port=_closed_port()),
            [
                "cannot reach PostgreSQL at",
                "(connection refused): start PostgreSQL, or correct the host and port",
            ],
            id="postgresql-not-running",
        ),
        pytest.param(
            lambda: _postgres(name="dispatch_absent_" + uuid.uuid4().hex[:8]),
            ['has no database "dispatch_absent_', "create it (createdb "],
            id="missing-database",
        ),
        pytest.param(
            lambda: _postgres(user="dispatch_nobody"),
            ['has no role "dispatch_nobody"', "create it (createuser ", "dispatch_nobody)"],
            id="missing-role",
        ),
        pytest.param(
            lambda: "sqlite:////nonexistent-folder/dispatch.db",
            [
                "cannot use the SQLite database '/nonexistent-folder/dispatch.db'",
                "check that its folder exists",
            ],
            id="sqlite-folder-missing",
        ),
    ],
)
async def test_startup_database_problem_is_one_line_with_the_fix(
    config_file: Path, database_url: object, fragments: list[str]
) -> None:
    assert callable(database_url)
    code, out, err = await _serve("--config", str(config_file), "--database", database_url(), "--port", "0")

    _assert_one_line(code, err, *fragments)
    assert "serving on" not in out and "token" not in out


async def test_startup_traceback_only_with_log_level_debug(config_file: Path) -> None:
    url = _postgres(user="dispatch_nobody")

    code, _out, err = await _serve(
        "--config", str(config_file), "--database", url, "--port", "0", "--log-level", "debug"
    )

    assert code != 0
    assert "Traceback" in err
    assert (
        err.splitlines()[-1].startswith("dispatch: PostgreSQL at ") and "createuser" in err.splitlines()[-1]
    )


@pytest.mark.parametrize("audit_key", [True, False], ids=["key-given", "key-next-to-the-database"])
async def test_startup_refuses_the_previous_release_database_until_upgraded(
    config_file: Path, tmp_path: Path, audit_key: bool
) -> None:
    path = tmp_path / "previous.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            (PREVIOUS / "schema-sqlite.sql").read_text() + (PREVIOUS / "rows.sql").read_text()
        )

    code, out, err = await _serve(
        "--config", str(config_file), "--database", f"sqlite:///{path}", "--port", "0", audit_key=audit_key
    )

    _assert_one_line(code, err, "made by a release before schema migrations", "run `dispatch db upgrade`")
    assert out == ""
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM token").fetchone() == (3,)
    assert not (tmp_path / "previous.db.audit-key").exists()  # a refused start leaves no key behind


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(
            "jurisdictions: [unclosed\n",
            ["not valid YAML", "correct it, then check it with `dispatch config check "],
            id="invalid",
        ),
        pytest.param(
            None,
            ["cannot read: No such file or directory", "give the config file with --config FILE"],
            id="missing",
        ),
    ],
)
async def test_startup_bad_config_is_one_line_with_the_fix(
    tmp_path: Path, content: str | None, fragments: list[str]
) -> None:
    config_file = tmp_path / "config.yaml"
    if content is not None:
        config_file.write_text(content)

    code, out, err = await _serve("--config", str(config_file), "--port", "0")

    _assert_one_line(code, err, f"{config_file}: ", *fragments)
    assert out == ""
