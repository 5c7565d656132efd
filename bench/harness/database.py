"""The benchmarks' databases: a fresh one per run, and what a run left in it."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """A new empty database: a SQLite file, or a throwaway database on the PostgreSQL server."""
    if base_url is None or base_url.startswith("sqlite"):
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    import psycopg

    admin = _psycopg_url(base_url)
    name = f"dispatch_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored_counts(database_url: str) -> dict[str, int]:
    """Rows of alerts, incidents, tasks and events."""
    import sqlalchemy as sa

    from dispatch.storage import database
    from dispatch.storage.tables import alert_table, event_table, incident_table, task_table

    engine = database.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("alerts", alert_table),
                    ("incidents", incident_table),
                    ("tasks", task_table),
                    ("events", event_table),
                )
            }
    finally:
        engine.dispose()


class AlertCount:
    """The alerts table's row count, read from the SQLite file read-only (WAL: never blocks the writer)."""

    def __init__(self, database: Path) -> None:
        from dispatch.storage.tables import alert_table

        self._connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
        self._query = f'SELECT count(*) FROM "{alert_table.name}"'

    def __call__(self) -> int:
        return int(self._connection.execute(self._query).fetchone()[0])

    def close(self) -> None:
        self._connection.close()


def openers(database: Path) -> dict[str, tuple[int, bool]]:
    """Every stored alert's title → (its incident, whether it opened it).

    The alert that opened an incident is the incident's lowest alert id.
    """
    from dispatch.storage.tables import alert_table

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(f'SELECT id, title, incident_id FROM "{alert_table.name}"').fetchall()
    finally:
        connection.close()
    first: dict[int, int] = {}
    for alert_id, _, incident_id in rows:
        first[incident_id] = min(alert_id, first.get(incident_id, alert_id))
    return {title: (incident_id, first[incident_id] == alert_id) for alert_id, title, incident_id in rows}
