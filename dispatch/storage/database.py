"""Engines for the embedded SQLite file and for PostgreSQL, with the schema created on demand."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from dispatch.storage import migrations

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///dispatch.db"


def normalize_url(url: str) -> str:
    """Accept the URLs operators write (postgres://, postgresql://) and pick our drivers."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def create_engine(url: str, *, writer: bool = False, synchronous: str = "FULL") -> sa.Engine:
    """An engine; the writer's takes SQLite's write lock at BEGIN, readers never do."""
    url = normalize_url(url)
    json = {"json_serializer": _dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **json)
        _tune_sqlite(engine, synchronous, "BEGIN IMMEDIATE" if writer else "BEGIN")
    else:
        # A host that drops packets would otherwise hold a request for the OS's TCP timeout.
        timeout = {} if "connect_timeout" in sa.engine.make_url(url).query else {"connect_timeout": 10}
        engine = sa.create_engine(
            url, pool_size=4, max_overflow=4, pool_pre_ping=True, connect_args=timeout, **json
        )
    return engine


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tune_sqlite(engine: sa.Engine, synchronous: str, begin: str) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; take BEGIN over from it, as the
    # SQLAlchemy documentation prescribes, so each command of a group commit can roll back alone.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)


def create_schema(engine: sa.Engine) -> None:
    """Make the schema on an empty database (by its migrations); refuse one that is not current.

    Raises dispatch.storage.migrations.SchemaError, whose message names `dispatch db upgrade`.
    """
    migrations.prepare(engine)


def check_connection(connection: sa.Connection) -> None:
    """Raise if the database does not answer (readiness)."""
    connection.execute(sa.text("SELECT 1"))


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs."""
    return sa.engine.make_url(normalize_url(url)).render_as_string(hide_password=True)
