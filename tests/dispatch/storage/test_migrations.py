"""Schema migrations: the models and the revisions agree, and the previous release's data survives."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from dispatch.access.auth import issue_token
from dispatch.cli.main import main
from dispatch.shared.clock import ManualClock
from dispatch.storage import database, migrations
from tests.conftest import AUDIT_KEY, POSTGRES_ADMIN_URL, _postgres_url
from tests.factories import make_config
from web.app import create_app
from web.keys import RUNTIME

PREVIOUS = Path(__file__).parents[3] / "tests" / "fixtures" / "previous_release"
PREVIOUS_PASSWORD = "previous-release-1"
SCRIPTS = ScriptDirectory.from_config(migrations.alembic_config())
OLDER_REVISIONS = [
    script.revision for script in SCRIPTS.walk_revisions() if script.revision != migrations.head()
]


@pytest.fixture(params=["sqlite", "postgresql"])
def previous_release_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database holding the previous release's schema and rows, as that release left them."""
    script = (PREVIOUS / f"schema-{request.param}.sql").read_text() + (PREVIOUS / "rows.sql").read_text()
    if request.param == "sqlite":
        path = tmp_path / "previous.db"
        with sqlite3.connect(path) as connection:
            connection.executescript(script)
        yield f"sqlite:///{path}"
        return
    name = f"dispatch_previous_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(_postgres_url(name), autocommit=True) as connection:
            connection.execute(script.encode())
        yield _postgres_url(name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(engine: sa.Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the database has, as the database holds it."""
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        metadata = sa.MetaData()
        metadata.reflect(connection)
        for table in metadata.sorted_tables:
            if table.name != migrations.VERSION_TABLE:
                rows = connection.execute(sa.select(table).order_by(*table.primary_key.columns))
                found[table.name] = [dict(row) for row in rows.mappings()]
    return found


def _differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts=migrations.migration_options())
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrations_make_the_schema_the_models_describe(
    database_url: str, engine_for: Callable[[str], Any]
) -> None:
    engine = engine_for(database_url)
    database.create_schema(engine)  # as serve does: on SQLite a new file, on PostgreSQL the session's

    with engine.connect() as connection:
        assert _differences(connection) == [], "a model changed without a migration: docs/schema.md"
        assert migrations.state(connection).revision == migrations.head()


def test_migrations_form_one_line_of_numbered_revisions() -> None:
    scripts = list(SCRIPTS.walk_revisions())

    assert SCRIPTS.get_heads() == [migrations.head()]
    assert [script.revision for script in reversed(scripts)] == [
        f"{number:04d}" for number in range(1, len(scripts) + 1)
    ]
    for script in scripts:
        assert script.path is not None and Path(script.path).name.startswith(f"{script.revision}_")


async def test_migrations_upgrade_the_previous_release_and_keep_every_row(
    previous_release_url: str,
    engine_for: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = engine_for(previous_release_url)
    before = _rows(engine)
    assert {name: len(rows) for name, rows in before.items()} == {
        "alert": 3,
        "chain_head": 1,
        "event": 18,
        "incident": 2,
        "login_session": 1,
        "responder": 9,
        "task": 2,
        "token": 3,
        "user_account": 1,
    }
    with pytest.raises(migrations.SchemaError, match=r"before schema migrations.*`dispatch db upgrade`"):
        database.create_schema(engine)  # what serve does first: it refuses, and changes nothing
    assert _rows(engine) == before
    assert main(["db", "current", "--database", previous_release_url]) == 1
    assert capsys.readouterr().out.startswith("made by a release before schema migrations")

    assert main(["db", "upgrade", "--database", previous_release_url]) == 0
    assert capsys.readouterr().out == (
        f"ok: upgraded from a database from before migrations to revision {migrations.head()} (the newest)\n"
        "next: the event log was chained before the audit key; run `dispatch audit rekey` once (with the "
        "server's audit key): it checks the old chain and signs it, and `dispatch audit verify` fails "
        "until then\n"
    )

    after = _rows(engine)
    for name, rows in before.items():  # every row, every value; new columns may be added beside them
        assert [{column: row[column] for column in rows[0]} for row in after[name]] == rows, name
    with engine.connect() as connection:
        assert _differences(connection) == []
    database.create_schema(engine)  # serve starts now
    # The previous release chained its log without a key: verify says so until rekey signs it.
    monkeypatch.setenv("DISPATCH_AUDIT_KEY", AUDIT_KEY.secret.decode())
    assert main(["audit", "verify", "--database", previous_release_url]) == 1
    unkeyed = "BROKEN at seq 1: row 1 onwards were chained without the audit key"
    assert capsys.readouterr().out.startswith(unkeyed)
    assert main(["audit", "rekey", "--database", previous_release_url]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--database", previous_release_url]) == 0
    assert capsys.readouterr().out == (
        f"ok: 18 events, chain intact and signed with the audit key {AUDIT_KEY.fingerprint}\n"
    )


async def test_migrations_previous_release_data_is_served_after_the_upgrade(
    previous_release_url: str, engine_for: Callable[[str], Any]
) -> None:
    migrations.upgrade(engine_for(previous_release_url))
    config = make_config()
    app = create_app(
        config,
        database_url=previous_release_url,
        clock=ManualClock(),
        run_scheduler=False,
        audit_key=AUDIT_KEY,
    )
    async with TestClient(TestServer(app)) as client:
        admin = issue_token(app[RUNTIME].write_engine, config, role="admin", name="ops", now=time.time())
        response = await client.get("/api/v1/incidents/1", headers={"Authorization": f"Bearer {admin}"})
        incident = await response.json()
        login = await client.post(
            "/api/v1/session", json={"name": "duty-officer", "password": PREVIOUS_PASSWORD}
        )

    assert response.status == 200
    assert (incident["state"], incident["alert_count"], incident["summary"]) == (
        "resolved",
        2,
        "drain cleared",
    )
    assert [(task["responder_id"], task["state"]) for task in incident["tasks"]] == [
        ("grid-west-n-1", "done")
    ]
    assert login.status == 200  # the person and the password hash came through


async def test_migrations_refuse_a_database_a_newer_release_wrote(
    database_url: str, engine_for: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    engine = engine_for(database_url)
    database.create_schema(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    try:
        with pytest.raises(migrations.SchemaError, match="revision 9999, which this release does not know"):
            database.create_schema(engine)

        assert main(["db", "upgrade", "--database", database_url]) == 1
        assert main(["db", "current", "--database", database_url]) == 1
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "a newer release wrote it" in err
        assert out.startswith("revision 9999, which this release does not know")
    finally:
        with engine.begin() as connection:  # the session's PostgreSQL database serves later tests
            connection.execute(
                sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = :head"),
                {"head": migrations.head()},
            )


@pytest.mark.parametrize("older", OLDER_REVISIONS)
async def test_migrations_serve_refuses_a_schema_behind_until_upgraded(
    older: str, sqlite_url: str, engine_for: Callable[[str], Any]
) -> None:
    engine = engine_for(sqlite_url)
    with engine.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), older)

    with pytest.raises(migrations.SchemaError, match=f"revision {older}, behind .*`dispatch db upgrade`"):
        database.create_schema(engine)
    migrations.upgrade(engine)
    database.create_schema(engine)


async def test_migrations_db_commands_on_a_new_database(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = migrations.head()

    assert main(["db", "current", "--database", sqlite_url]) == 0
    assert main(["db", "upgrade", "--database", sqlite_url]) == 0
    assert main(["db", "current", "--database", sqlite_url]) == 0
    assert main(["db", "upgrade", "--database", sqlite_url]) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"empty database (no tables yet; the first start creates revision {head})",
        f"ok: created, revision {head} (the newest)",
        f"revision {head} (the newest)",
        f"ok: revision {head} (the newest), nothing to do",
    ]


async def test_migrations_upgrade_adds_an_index_a_still_older_release_lacked(
    previous_release_url: str, engine_for: Callable[[str], Any]
) -> None:
    engine = engine_for(previous_release_url)
    with engine.begin() as connection:  # a database of the release before the statistics
        connection.execute(sa.text("DROP INDEX ix_event_occurred_at"))

    migrations.upgrade(engine)

    with engine.connect() as connection:
        assert "ix_event_occurred_at" in {
            index["name"] for index in sa.inspect(connection).get_indexes("event")
        }
        assert _differences(connection) == []


def test_migrations_upgraded_sqlite_log_is_signed_by_rekey_with_a_key_made_next_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator upgrading a SQLite deployment before its first start on this release: rekey
    makes the key file the server would make (next to the database, owner only) and signs with it."""
    monkeypatch.delenv("DISPATCH_AUDIT_KEY", raising=False)
    path = tmp_path / "previous.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            (PREVIOUS / "schema-sqlite.sql").read_text() + (PREVIOUS / "rows.sql").read_text()
        )
    url = f"sqlite:///{path}"
    assert main(["db", "upgrade", "--database", url]) == 0
    assert "run `dispatch audit rekey` once" in capsys.readouterr().out

    assert main(["audit", "rekey", "--database", url]) == 0
    assert main(["audit", "verify", "--database", url]) == 0

    key_file = tmp_path / "previous.db.audit-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: 18 events signed with the audit key")
    assert out[1].startswith("ok: 18 events, chain intact and signed with the audit key")
