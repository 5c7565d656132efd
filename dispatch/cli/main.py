"""The `dispatch` command: serve, simulate, user, token, audit, db, config, diagram, mqtt-acl."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

import sqlalchemy as sa

from dispatch.cli.parser import build_parser
from dispatch.config.model import ConfigError
from dispatch.ops import startup
from dispatch.storage import migrations
from dispatch.storage.audit_key import AuditKeyError


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigError as err:
        print(f"error: {err}{_config_fix(args, err)}", file=sys.stderr)
        return 2
    except AuditKeyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (startup.StartupError, migrations.SchemaError, sa.exc.DBAPIError) as err:
        # One line naming the problem and the fix; the traceback only when asked for.
        if getattr(args, "log_level", "").upper() == "DEBUG":
            traceback.print_exc()
        if isinstance(err, sa.exc.DBAPIError):
            err = startup.database_problem(getattr(args, "database", ""), err)
        print(f"dispatch: {err}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    """The command's own module; each is imported only when run (serve's pulls in the web app)."""
    if args.command == "serve":
        from dispatch.cli import serve

        return serve.demo(args) if args.demo else serve.serve(args)
    if args.command == "simulate":
        from dispatch.simulate.command import simulate

        return simulate(args)
    if args.command == "token":
        from dispatch.cli.tokens import token

        return token(args)
    if args.command == "user":
        from dispatch.cli.users import user

        return user(args)
    if args.command == "audit":
        from dispatch.cli.audit import audit

        return audit(args)
    if args.command == "db":
        from dispatch.cli.db import db

        return db(args)
    if args.command == "config":
        from dispatch.cli.describe import config_check

        return config_check(args.file)
    if args.command == "diagram":
        from dispatch.cli.describe import diagram

        return diagram()
    if args.command == "mqtt-acl":
        from dispatch.cli.broker import mqtt_acl_command

        return mqtt_acl_command(args)
    raise AssertionError(args.command)


def _config_fix(args: argparse.Namespace, err: ConfigError) -> str:
    """How to fix the file --config named (`config check` names its own file)."""
    path = getattr(args, "config", None)
    if path is None or not str(err).startswith(f"{path}: "):
        return ""
    if str(err).startswith(f"{path}: cannot read"):
        return ": give the config file with --config FILE (or DISPATCH_CONFIG)"
    return f": correct it, then check it with `dispatch config check {path}`"
