"""`dispatch db upgrade|current|revision`: the database schema and its migrations."""

from __future__ import annotations

import argparse

from dispatch.storage import database, ledger, migrations


def db(args: argparse.Namespace) -> int:
    if args.db_command == "revision":
        print(f"wrote {migrations.revision(args.message)}: read it, then run its tests (docs/schema.md)")
        return 0
    engine = database.create_engine(args.database)
    try:
        if args.db_command == "current":
            found = migrations.current(engine)
            print(found.describe())
            return 0 if found.current or found.empty else 1
        before, after = migrations.upgrade(engine)
        with engine.connect() as connection:
            unkeyed = ledger.begins_unkeyed(connection)
    finally:
        engine.dispose()
    if before.current:
        print(f"ok: {after.describe()}, nothing to do")
    elif before.empty:
        print(f"ok: created, {after.describe()}")
    else:
        was = "a database from before migrations" if before.before_migrations else before.revision
        print(f"ok: upgraded from {was} to {after.describe()}")
    if unkeyed:
        print(
            "next: the event log was chained before the audit key; run `dispatch audit rekey` once "
            "(with the server's audit key): it checks the old chain and signs it, and `dispatch audit "
            "verify` fails until then"
        )
    return 0
