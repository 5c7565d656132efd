"""The `dispatch` command: serve, simulate, user, token, audit, db, config, diagram, mqtt-acl."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import ssl
import sys
import time
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dispatch.config.model import Config, ConfigError, load_config, parse_config
from dispatch.ops import startup
from dispatch.storage import database, ledger, migrations
from dispatch.storage.audit_key import ENVIRONMENT as AUDIT_KEY_ENVIRONMENT
from dispatch.storage.audit_key import AuditKey, AuditKeyError, default_key_file, load_key

if TYPE_CHECKING:
    from dispatch.storage.ledger import Problem

logger = logging.getLogger(__name__)


def _settings_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=os.environ.get("DISPATCH_CONFIG", "config.yaml"),
        help="config file (env DISPATCH_CONFIG; default ./config.yaml)",
    )
    common.add_argument(
        "--database",
        default=os.environ.get("DISPATCH_DATABASE_URL", database.DEFAULT_DATABASE_URL),
        help="database URL: sqlite:///file.db or postgresql://… (env DISPATCH_DATABASE_URL)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _settings_parser()
    parser = argparse.ArgumentParser(prog="dispatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", default=os.environ.get("DISPATCH_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("DISPATCH_PORT", "8080")))
    serve.add_argument(
        "--log-level", default=os.environ.get("DISPATCH_LOG_LEVEL", "INFO"), help="DEBUG, INFO, …"
    )
    serve.add_argument(
        "--tls-cert",
        default=os.environ.get("DISPATCH_TLS_CERT"),
        metavar="FILE",
        help="serve HTTPS with this certificate chain (PEM; env DISPATCH_TLS_CERT): tablets on a town's "
        "network need it for offline mode and positions",
    )
    serve.add_argument(
        "--tls-key",
        default=os.environ.get("DISPATCH_TLS_KEY"),
        metavar="FILE",
        help="the certificate's private key (PEM; env DISPATCH_TLS_KEY)",
    )
    serve.add_argument(
        "--mqtt",
        default=os.environ.get("DISPATCH_MQTT_URL"),
        metavar="URL",
        help="MQTT broker, mqtt://[user@]host[:port]; overrides mqtt.url (env DISPATCH_MQTT_URL; "
        "the password comes from DISPATCH_MQTT_PASSWORD)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="a living demo: a throwaway database (removed at exit), demo logins, and the simulator "
        "playing a flood day against this server (ignores --database)",
    )

    simulate = commands.add_parser(
        "simulate", parents=[common], help="play a realistic day against a running server"
    )
    simulate.add_argument("--url", default="http://127.0.0.1:8080", help="the server (default %(default)s)")
    simulate.add_argument("--scenario", default="flood-day", help="what to play (default %(default)s)")
    simulate.add_argument(
        "--rate", default="1.0", help="pace: 1.0 is a busy but watchable day, 2 twice as fast (default 1.0)"
    )
    simulate.add_argument("--duration", help="how long, e.g. 90s, 10m, 1h (default: until Ctrl-C)")
    simulate.add_argument("--seed", help="the same seed plays the same day (default: random, printed)")
    simulate.add_argument(
        "--tablets", default="all", help="virtual tablets: all responder units (default) or the first N"
    )
    simulate.add_argument(
        "--gateway-token",
        metavar="TOKEN",
        help="use this gateway token instead of issuing tokens in --database "
        "(env DISPATCH_SIMULATE_GATEWAY_TOKEN, which stays out of the process list)",
    )
    simulate.add_argument(
        "--responder-tokens",
        metavar="FILE",
        help='with --gateway-token: a JSON file {"unit id": "responder token"}, one tablet each',
    )
    simulate.add_argument(
        "--mqtt",
        metavar="URL",
        help="send sensor readings through this broker, mqtt://[user@]host[:port] (else mqtt.url of "
        "the config, else HTTP; the password comes from DISPATCH_SIMULATE_MQTT_PASSWORD)",
    )
    simulate.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, … (default WARNING)")

    token = commands.add_parser("token", help="access tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", parents=[common], help="print a new token")
    issue.add_argument("--role", required=True, help="admin, dispatcher, responder or gateway")
    issue.add_argument("--name", required=True, help="who holds it (shown in the audit trail)")
    issue.add_argument("--jurisdiction", help="dispatcher: the subtree it may see and act on")
    issue.add_argument("--responder", help="responder: the unit id of config.yaml")
    issue.add_argument(
        "--expires", metavar="DURATION", help="refused after this long, e.g. 90d, 12h (default: never)"
    )
    issue.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="GLOB",
        help="gateway: an alert source it may post for, e.g. 'gauge-*' (repeatable; with neither "
        "--source nor --cap-sender the token is unbound and may post for any source)",
    )
    issue.add_argument(
        "--cap-sender",
        action="append",
        default=[],
        metavar="GLOB",
        help="gateway: a CAP sender it may post for, e.g. ops@city.example (repeatable)",
    )
    revoke = token_commands.add_parser(
        "revoke", parents=[common], help="refuse a token from now on (its sockets close within 10 s)"
    )
    revoke.add_argument("token", metavar="ID-or-NAME", help="its id (dispatch token list) or its name")
    token_commands.add_parser("list", parents=[common], help="list the tokens (never their secrets)")

    user = commands.add_parser("user", help="people's accounts for the login page")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", parents=[common], help="add an account and set its password")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="dispatcher, responder, admin or screen (the big screen)")
    add.add_argument("--jurisdiction", help="dispatcher, screen: the subtree it sees and acts on (none: all)")
    add.add_argument("--responder", help="responder: its unit id in config.yaml")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = user_commands.add_parser(
        "passwd", parents=[common], help="set a new password (unlocks and re-enables; ends its sessions)"
    )
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    disable = user_commands.add_parser(
        "disable", parents=[common], help="stop an account and end its sessions"
    )
    disable.add_argument("name")
    user_commands.add_parser("list", parents=[common], help="list the accounts")
    totp_reset = user_commands.add_parser(
        "totp-reset", parents=[common], help="admins: a new second-factor secret (ends its sessions)"
    )
    totp_reset.add_argument("name")

    audit = commands.add_parser("audit", help="the event log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_commands.add_parser(
        "verify", parents=[common], help="check the signed chain (and that it still reaches an exported head)"
    )
    audit_verify.add_argument(
        "--head",
        metavar="FILE-OR-TEXT",
        help="a head printed by `dispatch audit head` earlier (a file: its last line): fail if the log "
        "was cut below it or rewritten",
    )
    audit_commands.add_parser(
        "head", parents=[common], help="print the log's head (seq, hash, time) signed, to keep elsewhere"
    )
    audit_commands.add_parser(
        "rekey", parents=[common], help="sign a log chained before the audit key existed (checks it first)"
    )

    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file")
    check.add_argument("file")

    db = commands.add_parser("db", help="the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser(
        "upgrade", parents=[common], help="bring the schema to this release's revision (back up first)"
    )
    db_commands.add_parser("current", parents=[common], help="show the schema's revision")
    revision = db_commands.add_parser(
        "revision", help="(developers) write a migration for what dispatch/storage/tables.py changed"
    )
    revision.add_argument("message", help="what changes, e.g. 'token expiry'")

    commands.add_parser("diagram", help="print the state machines as Mermaid")

    mqtt_acl = commands.add_parser(
        "mqtt-acl", parents=[common], help="write Mosquitto's ACL and password files; print new passwords"
    )
    mqtt_acl.add_argument("--acl", default="mqtt/acl", help="ACL file to write (default mqtt/acl)")
    mqtt_acl.add_argument(
        "--passwords", default="mqtt/passwords", help="password file to update (default mqtt/passwords)"
    )
    mqtt_acl.add_argument(
        "--rotate", action="append", default=[], metavar="NAME", help="give this account a new password"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _demo(args) if args.demo else _serve(args)
        if args.command == "simulate":
            from dispatch.simulate.command import simulate

            return simulate(args)
        if args.command == "token":
            return _token(args)
        if args.command == "user":
            return _user(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "db":
            return _db(args)
        if args.command == "config":
            return _config_check(args.file)
        if args.command == "diagram":
            return _diagram()
        if args.command == "mqtt-acl":
            return _mqtt_acl(args)
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
    raise AssertionError(args.command)


def _config_fix(args: argparse.Namespace, err: ConfigError) -> str:
    """How to fix the file --config named (`config check` names its own file)."""
    path = getattr(args, "config", None)
    if path is None or not str(err).startswith(f"{path}: "):
        return ""
    if str(err).startswith(f"{path}: cannot read"):
        return ": give the config file with --config FILE (or DISPATCH_CONFIG)"
    return f": correct it, then check it with `dispatch config check {path}`"


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _audit_key(args: argparse.Namespace, config: Config | None, *, create: bool) -> AuditKey:
    """The audit key: DISPATCH_AUDIT_KEY, else audit.key_file, else the SQLite database's own."""
    environment = os.environ.get(AUDIT_KEY_ENVIRONMENT)
    if not environment and config is None:
        config = _load(args)
    key_file = config.audit.key_file if config is not None else None
    return load_key(key_file, args.database, environment, create=create)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from web.app import create_app
    from web.metrics import LISTENER as METRICS_LISTENER
    from web.slow_clients import server_options

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Its INFO lines repeat every state change, which the event log already holds (and cost
    # about 6 % of the CPU under load, bench/mqtt.py).
    logging.getLogger("transitions").setLevel(max(logging.WARNING, logging.getLogger().level))
    # Its INFO lines name its internals at every start; dispatch.storage.migrations says what it did.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    config = _load(args)
    if args.mqtt:
        try:
            config = parse_config(
                {
                    **config.model_dump(mode="json"),
                    "mqtt": {**config.mqtt.model_dump(mode="json"), "url": args.mqtt},
                },
                "--mqtt",
            )
        except ConfigError as err:
            print(f"dispatch: {err}", file=sys.stderr)
            return 2
    ssl_context = _tls(args)
    sockets = startup.listen(args.host, args.port)
    try:
        if config.metrics.listen is not None:
            sockets_of_metrics = startup.listen(config.metrics.host, config.metrics.port, "metrics.listen")
            sockets += sockets_of_metrics
        else:
            sockets_of_metrics = []
        # After the port (a busy port is said first and creates nothing), before the database: a
        # key that is missing and cannot be made (PostgreSQL) is one line, and nothing is created.
        # One that the server may make (its first start) is made once the schema is found good, so
        # a refused start leaves no key file behind.
        audit_key: AuditKey | None = None
        try:
            audit_key = _audit_key(args, config, create=False)
        except AuditKeyError:
            if not config.audit.key_file and default_key_file(args.database) is None:
                raise
        _bootstrap_admin(args.database, config)
        if audit_key is None:
            audit_key = _audit_key(args, config, create=True)
        app = create_app(
            config,
            database_url=args.database,
            mqtt_password=os.environ.get("DISPATCH_MQTT_PASSWORD"),
            audit_key=audit_key,
        )
        app[METRICS_LISTENER].sockets = sockets_of_metrics
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    sockets = [sock for sock in sockets if sock not in sockets_of_metrics]
    scheme = "https" if ssl_context else "http"
    port = sockets[0].getsockname()[1]
    print(f"dispatch: serving on {scheme}://{args.host}:{port}", flush=True)
    if ssl_context is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "serving plain HTTP on %s: browsers allow the tablet app's offline mode (service worker) "
            "and positions (geolocation) only over HTTPS or on localhost, so tablets on the network "
            "will silently lose both. Give --tls-cert/--tls-key or put a TLS reverse proxy in front "
            "(README: HTTPS for tablets)",
            args.host,
        )
    web.run_app(
        app,
        sock=sockets,
        ssl_context=ssl_context,
        print=None,
        access_log=None,
        **server_options(config),
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from dispatch.simulate.demo import run_demo

    # The progress line is the demo's log: the server's INFO lines would scroll it away.
    level = "WARNING" if args.log_level.upper() == "INFO" else args.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_demo(_load(args), host=args.host, port=args.port)


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"--tls-cert/--tls-key: cannot load: {err}") from err
    return context


def _bootstrap_admin(database_url: str, config: Config) -> None:
    """A fresh database has no tokens: make one admin token and show it this once."""
    from dispatch.access.accounts import list_users
    from dispatch.access.auth import has_tokens, issue_token

    engine = database.create_engine(database_url)
    try:
        database.create_schema(engine)
        if not list_users(engine):
            print(
                "dispatch: nobody can log in at the login page yet: add people with\n"
                "  dispatch user add NAME --role dispatcher|responder|admin|screen",
                flush=True,
            )
        if has_tokens(engine):
            return
        token = issue_token(
            engine, config, role="admin", name="bootstrap", actor="system:serve", now=time.time()
        )
    finally:
        engine.dispose()
    print(
        "dispatch: first start, no tokens yet. Admin token (shown once, only its hash is kept):\n"
        f"  {token}\n"
        "  Issue more with: dispatch token issue --role ROLE --name NAME",
        flush=True,
    )


def _token(args: argparse.Namespace) -> int:
    from dispatch.cli.tokens import list_command, revoke_command

    if args.token_command == "list":
        return list_command(args.database)
    if args.token_command == "revoke":
        return revoke_command(args.database, args.token)
    return _token_issue(args)


def _token_issue(args: argparse.Namespace) -> int:
    from dispatch.access.auth import TokenError, issue_token
    from dispatch.config.values import parse_duration
    from dispatch.storage.pending_events import command_line_actor

    config = _load(args)
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
        from dispatch.access.speaks_for import Binding, describe

        bound = (
            Binding(tuple(args.source), tuple(args.cap_sender)) if args.source or args.cap_sender else None
        )
        print(f"dispatch: {args.name} speaks for {describe(bound)}", file=sys.stderr)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> int:
    from dispatch.access import accounts

    engine = database.create_engine(args.database)
    database.create_schema(engine)
    try:
        if args.user_command == "list":
            for row in accounts.list_users(engine):
                scope = row["jurisdiction_id"] or row["responder_id"] or "-"
                state = "disabled" if row["disabled"] else "active"
                print(f"{row['name']}\t{row['role']}\t{scope}\t{state}")
            return 0
        if args.user_command == "totp-reset":
            from dispatch.access.second_factor import SecondFactorError, reset

            try:
                secret = reset(engine, args.name, now=time.time())
            except SecondFactorError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            _show_second_factor(args.name, secret)
            return 0
        if args.user_command == "disable":
            ended = accounts.disable_user(engine, args.name, now=time.time())
            print(f"{args.name}: disabled, {ended} session(s) ended")
            return 0
        password = _read_password(args.password_stdin)
        if args.user_command == "passwd":
            accounts.set_password(engine, args.name, password, now=time.time())
            print(f"{args.name}: password changed, sessions ended")
            return 0
        enrolled = accounts.add_user(
            engine,
            _load(args),
            name=args.name,
            role=args.role,
            password=password,
            jurisdiction=args.jurisdiction,
            responder=args.responder,
            now=time.time(),
        )
        print(f"{args.name}: added ({args.role})")
        if enrolled is not None:
            _show_second_factor(args.name, enrolled)
        return 0
    except accounts.AccountError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _show_second_factor(name: str, secret: str) -> None:
    from dispatch.access.second_factor import provisioning_uri

    print(
        f"{name}: an admin logs in with a second factor. Add it to an authenticator app now "
        "(shown this once):\n"
        f"  {provisioning_uri(secret, name)}\n"
        f"  secret: {secret}  (6 digits, every 30 s)"
    )


def _audit(args: argparse.Namespace) -> int:
    from dispatch.storage import audit_head

    # rekey signs the log with the key, so it may make the server's key as its first start would.
    key = _audit_key(args, None, create=args.audit_command == "rekey")
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
            with engine.begin() as connection:
                changed, problems = ledger.rekey(connection, key.secret)
            _print_problems(problems)
            if not problems:
                print(f"ok: {changed} events signed with the audit key {key.fingerprint} ({key.origin})")
            return 1 if problems else 0
        with engine.connect() as connection:
            problems = list(ledger.verify(connection, key.secret))
            if head is not None and not problems:
                problem = audit_head.check_head(connection, key.secret, head)
                problems = [problem] if problem is not None else []
            count = ledger.read_head(connection).seq
    finally:
        engine.dispose()
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


def _db(args: argparse.Namespace) -> int:
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


def _config_check(path: str) -> int:
    config = load_config(path)
    print(
        f"ok: {len(config.jurisdictions)} jurisdictions, {len(config.departments)} departments, "
        f"{len(config.categories)} categories, {len(config.policies)} policies, "
        f"{len(config.responders)} responders"
    )
    return 0


def _diagram() -> int:
    from state_machines import INCIDENT, TASK, mermaid

    print("Incident\n\n```mermaid\n" + mermaid(INCIDENT) + "\n```\n")
    print("Task\n\n```mermaid\n" + mermaid(TASK) + "\n```")
    return 0


def _mqtt_acl(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dispatch import mqtt_acl

    accounts = mqtt_acl.accounts(_load(args))
    names = [account.name for account in accounts]
    unknown = [name for name in args.rotate if name not in names]
    if unknown:
        print(f"error: --rotate: no MQTT account {unknown[0]!r} in the config", file=sys.stderr)
        return 2
    acl, passwords = Path(args.acl).resolve(), Path(args.passwords).resolve()
    update = mqtt_acl.update_passwords(names, mqtt_acl.read_password_file(passwords), args.rotate)
    mqtt_acl.write_file(passwords, mqtt_acl.render_password_file(update.hashes), 0o600)
    mqtt_acl.write_file(acl, mqtt_acl.render_acl(accounts), 0o644)
    # Passwords alone on stdout, so `dispatch mqtt-acl > new-passwords` captures just them.
    for name, password in update.new_passwords.items():
        print(f"{name} {password}")
    print(
        f"dispatch: {len(names)} MQTT accounts, {len(update.new_passwords)} new (passwords on stdout, "
        "shown this once)\n"
        f"  ACL: {acl}\n  passwords: {passwords}\n"
        "mosquitto.conf (restart the broker; the files must be readable by the broker's user):\n"
        + "\n".join(f"  {line}" for line in mqtt_acl.broker_settings(acl, passwords)),
        file=sys.stderr,
    )
    return 0
