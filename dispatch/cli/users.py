"""`dispatch user`: people's accounts for the login page, their passwords and second factors."""

from __future__ import annotations

import argparse
import getpass
import sys
import time

import sqlalchemy as sa

from dispatch.access import accounts
from dispatch.access.second_factor import SecondFactorError, provisioning_uri, reset
from dispatch.cli.settings import load
from dispatch.config.model import ConfigError
from dispatch.storage import database


def user(args: argparse.Namespace) -> int:
    engine = database.create_engine(args.database)
    database.create_schema(engine)
    try:
        if args.user_command == "list":
            return _list(engine)
        if args.user_command == "totp-reset":
            return _totp_reset(engine, args.name)
        if args.user_command == "disable":
            ended = accounts.disable_user(engine, args.name, now=time.time())
            print(f"{args.name}: disabled, {ended} session(s) ended")
            return 0
        password = _read_password(args.password_stdin)
        if args.user_command == "passwd":
            accounts.set_password(engine, args.name, password, now=time.time())
            print(f"{args.name}: password changed, sessions ended")
            return 0
        return _add(engine, args, password)
    except accounts.AccountError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _list(engine: sa.Engine) -> int:
    for row in accounts.list_users(engine):
        scope = _scope(row)
        state = "disabled" if row["disabled"] else "active"
        print(f"{row['name']}\t{row['role']}\t{scope}\t{state}")
    return 0


def _scope(row: dict[str, object]) -> str:
    """What the account sees: its subtree, its unit, its department (with its subtree), or all."""
    place = row["jurisdiction_id"] or row["responder_id"]
    if row.get("department_id"):
        return f"department:{row['department_id']}" + (f"@{place}" if place else "")
    return str(place or "-")


def _totp_reset(engine: sa.Engine, name: str) -> int:
    try:
        secret = reset(engine, name, now=time.time())
    except SecondFactorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _show_second_factor(name, secret)
    return 0


def _add(engine: sa.Engine, args: argparse.Namespace, password: str) -> int:
    enrolled = accounts.add_user(
        engine,
        load(args),
        name=args.name,
        role=args.role,
        password=password,
        jurisdiction=args.jurisdiction,
        responder=args.responder,
        department=args.department,
        now=time.time(),
    )
    print(f"{args.name}: added ({args.role})")
    if enrolled is not None:
        _show_second_factor(args.name, enrolled)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def _show_second_factor(name: str, secret: str) -> None:
    print(
        f"{name}: an admin logs in with a second factor. Add it to an authenticator app now "
        "(shown this once):\n"
        f"  {provisioning_uri(secret, name)}\n"
        f"  secret: {secret}  (6 digits, every 30 s)"
    )
