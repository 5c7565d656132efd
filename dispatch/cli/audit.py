"""`dispatch audit verify|head|rekey`: the signed event log, checked, exported and signed."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import sqlalchemy as sa

from dispatch.cli.settings import audit_key
from dispatch.storage import audit_head, database, ledger
from dispatch.storage.audit_key import AuditKey
from dispatch.storage.ledger import Problem


def audit(args: argparse.Namespace) -> int:
    # rekey signs the log with the key, so it may make the server's key as its first start would.
    key = audit_key(args, None, create=args.audit_command == "rekey")
    head: audit_head.SignedHead | None = None
    if args.audit_command == "verify" and args.head:
        try:
            head = audit_head.read_signed_head(args.head)
        except audit_head.HeadError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    engine = database.create_engine(args.database)
    database.create_schema(engine)
    try:
        if args.audit_command == "head":
            with engine.connect() as connection:
                print(audit_head.take_head(connection, key.secret, time.time()).text())
            return 0
        if args.audit_command == "rekey":
            return _rekey(engine, key)
        return _verify(engine, key, head)
    finally:
        engine.dispose()


def _rekey(engine: sa.Engine, key: AuditKey) -> int:
    with engine.begin() as connection:
        changed, problems = ledger.rekey(connection, key.secret)
    _print_problems(problems)
    if not problems:
        print(f"ok: {changed} events signed with the audit key {key.fingerprint} ({key.origin})")
    return 1 if problems else 0


def _verify(engine: sa.Engine, key: AuditKey, head: audit_head.SignedHead | None) -> int:
    with engine.connect() as connection:
        problems = list(ledger.verify(connection, key.secret))
        if head is not None and not problems:
            problem = audit_head.check_head(connection, key.secret, head)
            problems = [problem] if problem is not None else []
        count = ledger.read_head(connection).seq
    _print_problems(problems)
    if problems:
        return 1
    reached = f", reaches the exported head of {head.at} (row {head.seq})" if head is not None else ""
    print(f"ok: {count} events, chain intact and signed with the audit key {key.fingerprint}{reached}")
    return 0


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        where = f" at seq {problem.seq}" if problem.seq is not None else ""
        print(f"BROKEN{where}: {problem.message}")
