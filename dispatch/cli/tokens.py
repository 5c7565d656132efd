"""`dispatch token issue|list|revoke`: what an operator does with tokens and sees of them."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from dispatch.access.auth import TokenError, binding_of, issue_token
from dispatch.access.speaks_for import Binding, describe
from dispatch.access.tokens import list_tokens, revoke_token
from dispatch.cli.settings import load
from dispatch.config.values import parse_duration
from dispatch.storage import database
from dispatch.storage.pending_events import command_line_actor


def token(args: argparse.Namespace) -> int:
    if args.token_command == "list":
        return list_command(args.database)
    if args.token_command == "revoke":
        return revoke_command(args.database, args.token)
    return issue_command(args)


def issue_command(args: argparse.Namespace) -> int:
    config = load(args)
    try:
        expires_in = None if args.expires is None else parse_duration(args.expires)
    except ValueError as err:
        print(f"error: --expires: {err}", file=sys.stderr)
        return 2
    engine = database.create_engine(args.database)
    database.create_schema(engine)
    try:
        token = issue_token(
            engine,
            config,
            role=args.role,
            name=args.name,
            jurisdiction=args.jurisdiction,
            responder=args.responder,
            department=args.department,
            expires_in=expires_in,
            actor=command_line_actor(),
            sources=args.source,
            cap_senders=args.cap_sender,
            now=time.time(),
        )
    except TokenError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(token)
    if args.role == "gateway":
        bound = (
            Binding(tuple(args.source), tuple(args.cap_sender)) if args.source or args.cap_sender else None
        )
        print(f"dispatch: {args.name} speaks for {describe(bound)}", file=sys.stderr)
    return 0


def _when(epoch: object) -> str:
    if not isinstance(epoch, float | int):
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def list_command(database_url: str) -> int:
    engine = database.create_engine(database_url)
    database.create_schema(engine)
    try:
        with engine.connect() as connection:
            rows = list_tokens(connection)
    finally:
        engine.dispose()
    now = time.time()
    print("id\tname\trole\tscope\tcreated\texpires\tlast used\tstate (UTC)\tspeaks for")
    for row in rows:
        scope = row["jurisdiction_id"] or row["responder_id"] or "-"
        if row["department_id"]:
            scope = f"department:{row['department_id']}" + ("" if scope == "-" else f"@{scope}")
        expires = row["expires_at"]
        if row["revoked_at"] is not None:
            state = f"revoked {_when(row['revoked_at'])}"
        elif isinstance(expires, float | int) and expires <= now:
            state = "expired"
        else:
            state = "active"
        speaks_for = describe(binding_of(row)) if row["role"] == "gateway" else "-"  # type: ignore[arg-type]
        print(
            f"{row['id']}\t{row['name']}\t{row['role']}\t{scope}\t{_when(row['created_at'])}\t"
            f"{_when(expires) if expires is not None else 'never'}\t{_when(row['last_used_at'])}\t{state}\t"
            f"{speaks_for}"
        )
    return 0


def revoke_command(database_url: str, which: str) -> int:
    engine = database.create_engine(database_url)
    database.create_schema(engine)
    try:
        revoked = revoke_token(engine, which, actor=command_line_actor(), now=time.time())
    except TokenError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(
        f"{revoked['id']} ({revoked['name']}, {revoked['role']}): revoked; a running server refuses it "
        "within 30 s and closes its sockets"
    )
    return 0
