"""Schema migrations (Alembic): a fresh database is made, an older one upgraded, a stale one refused.

The revisions live in `versions/`, one file each, in a single line from the first release with
migrations (`0001`, the schema as the release before them left it). Adding a column means adding
a revision: `dispatch db revision "what changes"` writes one from the difference between the
models (dispatch/storage/tables.py) and the newest revision (docs/schema.md).
"""

from __future__ import annotations

import functools
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from dispatch.storage import tables  # noqa: F401 - registers the tables on SQLModel.metadata

logger = logging.getLogger(__name__)

VERSIONS = Path(__file__).parent / "versions"
VERSION_TABLE = "alembic_version"
UPGRADE = "`dispatch db upgrade` (with the same --database)"
# Two servers starting on one empty PostgreSQL database must not both create it.
_LOCK_KEY = 0x64697370  # "disp"


class SchemaError(Exception):
    """The database's schema does not fit this release; the message says what to run."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands against this release's revisions."""

    revision: str | None
    head: str
    empty: bool
    """No tables at all: the first start makes them."""
    before_migrations: bool
    """Tables of a release before migrations, but no revision recorded."""
    known: bool
    """The revision is one of ours (else a newer release wrote it)."""

    @property
    def current(self) -> bool:
        return self.revision == self.head

    def describe(self) -> str:
        if self.empty:
            return f"empty database (no tables yet; the first start creates revision {self.head})"
        if self.before_migrations:
            return (
                "made by a release before schema migrations (no revision recorded): "
                f"run {UPGRADE} to record it and bring it to {self.head}"
            )
        if not self.known:
            return (
                f"revision {self.revision}, which this release does not know (a newer release wrote it; "
                f"this one's newest is {self.head}): run that release, or restore a backup"
            )
        if self.current:
            return f"revision {self.revision} (the newest)"
        return f"revision {self.revision}, behind {self.head}: back up the database, then run {UPGRADE}"


def migration_options() -> dict[str, Any]:
    """How Alembic compares and renders: SQLite needs batch mode to alter a table."""
    return {
        "target_metadata": SQLModel.metadata,
        "render_as_batch": True,
        "compare_type": True,
        "render_item": _render_item,
    }


def _render_item(kind: str, item: Any, _context: AutogenContext) -> str | bool:
    # SQLModel's str columns are a String that needs no sqlmodel import in a revision file.
    if kind == "type" and isinstance(item, AutoString):
        return "sa.String()" if item.length is None else f"sa.String(length={item.length})"
    # Revisions are generated against SQLite, which would write sa.false() as '0': PostgreSQL
    # refuses an integer default on a boolean column.
    if kind == "server_default" and isinstance(item, sa.DefaultClause):
        if isinstance(item.arg, sa.sql.elements.False_):
            return "sa.false()"
        if isinstance(item.arg, sa.sql.elements.True_):
            return "sa.true()"
    return False


def alembic_config(connection: sa.Connection | None = None) -> AlembicConfig:
    """Alembic's settings for our revisions; env.py runs them on the connection given."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the migrations have {len(heads)} newest revisions {heads}, not one (docs/schema.md)"
        )
    return str(heads[0])


def state(connection: sa.Connection) -> SchemaState:
    names = set(sa.inspect(connection).get_table_names())
    ours = {table.name for table in SQLModel.metadata.sorted_tables}
    revision = MigrationContext.configure(connection).get_current_revision()
    known = True
    if revision is not None:
        try:
            known = _scripts().get_revision(revision) is not None
        except CommandError:
            known = False
    return SchemaState(
        revision=revision,
        head=head(),
        empty=revision is None and not names & ours,
        before_migrations=revision is None and bool(names & ours),
        known=known,
    )


def current(engine: sa.Engine) -> SchemaState:
    with engine.connect() as connection:
        return state(connection)


def prepare(engine: sa.Engine) -> None:
    """Make the schema on an empty database; refuse one that is not at this release's revision."""
    with engine.begin() as connection:
        _lock(connection)
        found = state(connection)
        if found.empty:
            _upgrade(connection)
            logger.info("schema created: revision %s", found.head)
        elif not found.current:
            raise SchemaError(f"the database schema is {found.describe()}")


def upgrade(engine: sa.Engine) -> tuple[SchemaState, SchemaState]:
    """Bring the schema to this release's revision; a database from before migrations is adopted."""
    with engine.begin() as connection:
        _lock(connection)
        before = state(connection)
        if not before.known:
            raise SchemaError(f"the database schema is {before.describe()}")
        _upgrade(connection)
        return before, state(connection)


def _upgrade(connection: sa.Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _lock(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def revision(message: str) -> Path:
    """Write a revision for what the models have and the newest revision lacks; return its file."""
    number = max((int(match.group(1)) for match in _revision_files()), default=0) + 1
    with tempfile.TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            with engine.begin() as connection:
                _upgrade(connection)
                script = command.revision(
                    alembic_config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}"
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def _revision_files() -> list[re.Match[str]]:
    matches = (re.fullmatch(r"(\d{4})_.*\.py", path.name) for path in VERSIONS.iterdir())
    return [match for match in matches if match]
