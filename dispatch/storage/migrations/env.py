"""Alembic's environment: runs the revisions on the connection dispatch.storage.migrations hands over."""

from __future__ import annotations

from alembic import context

from dispatch.storage.migrations import migration_options

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("dispatch's migrations run through `dispatch db upgrade`, not the alembic command")
context.configure(connection=connection, **migration_options())
with context.begin_transaction():
    context.run_migrations()
