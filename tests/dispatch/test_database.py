"""The schema: made on a fresh database, completed on one an older release made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dispatch import database


def _indexes(engine: sa.Engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return {index["name"] for index in sa.inspect(connection).get_indexes(table)}


async def test_database_schema_adds_an_index_an_older_release_lacked(
    database_url: str, engine_for: Callable[[str], Any]
) -> None:
    engine = engine_for(database_url)
    database.create_schema(engine)
    with engine.begin() as connection:  # a database of the release before the statistics
        connection.execute(sa.text("DROP INDEX ix_event_occurred_at"))
    assert "ix_event_occurred_at" not in _indexes(engine, "event")

    database.create_schema(engine)
    database.create_schema(engine)  # and again: nothing to add, nothing fails

    assert "ix_event_occurred_at" in _indexes(engine, "event")
