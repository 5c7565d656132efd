"""The `dispatch` command: serve, simulate, user, token issue, audit, config, diagram, mqtt-acl."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import ssl
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dispatch import database
from dispatch.audit_key import ENVIRONMENT as AUDIT_KEY_ENVIRONMENT
from dispatch.audit_key import AuditKey, AuditKeyError, load_key
from dispatch.config import Config, ConfigError, load_config, parse_config

if TYPE_CHECKING:
    from dispatch.ledger import Problem

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
            return _token_issue(args)
        if args.command == "user":
            return _user(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "config":
            return _config_check(args.file)
        if args.command == "diagram":
            return _diagram()
        if args.command == "mqtt-acl":
            return _mqtt_acl(args)
    except (ConfigError, AuditKeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


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

    from web import create_app

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Its INFO lines repeat every state change, which the event log already holds (and cost
    # about 6 % of the CPU under load, bench/mqtt.py).
    logging.getLogger("transitions").setLevel(max(logging.WARNING, logging.getLogger().level))
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
    try:
        audit_key = _audit_key(args, config, create=True)
    except AuditKeyError as err:
        print(f"dispatch: {err}", file=sys.stderr)
        return 2
    _bootstrap_admin(args.database, config)
    app = create_app(
        config,
        database_url=args.database,
        mqtt_password=os.environ.get("DISPATCH_MQTT_PASSWORD"),
        audit_key=audit_key,
    )
    ssl_context = _tls(args)
    scheme = "https" if ssl_context else "http"
    print(f"dispatch: serving on {scheme}://{args.host}:{args.port}", flush=True)
    if ssl_context is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "serving plain HTTP on %s: browsers allow the tablet app's offline mode (service worker) "
            "and positions (geolocation) only over HTTPS or on localhost, so tablets on the network "
            "will silently lose both. Give --tls-cert/--tls-key or put a TLS reverse proxy in front "
            "(README: HTTPS for tablets)",
            args.host,
        )
    web.run_app(app, host=args.host, port=args.port, ssl_context=ssl_context, print=None, access_log=None)
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
    from dispatch.accounts import list_users
    from dispatch.auth import has_tokens, issue_token

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
        token = issue_token(engine, config, role="admin", name="bootstrap", now=time.time())
    finally:
        engine.dispose()
    print(
        "dispatch: first start, no tokens yet. Admin token (shown once, only its hash is kept):\n"
        f"  {token}\n"
        "  Issue more with: dispatch token issue --role ROLE --name NAME",
        flush=True,
    )


def _token_issue(args: argparse.Namespace) -> int:
    from dispatch.auth import TokenError, issue_token

    config = _load(args)
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
            now=time.time(),
        )
    except TokenError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(token)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> int:
    from dispatch import accounts

    engine = database.create_engine(args.database)
    database.create_schema(engine)
    try:
        if args.user_command == "list":
            for row in accounts.list_users(engine):
                scope = row["jurisdiction_id"] or row["responder_id"] or "-"
                state = "disabled" if row["disabled"] else "active"
                print(f"{row['name']}\t{row['role']}\t{scope}\t{state}")
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
        accounts.add_user(
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
        return 0
    except accounts.AccountError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _audit(args: argparse.Namespace) -> int:
    from dispatch import audit_head, ledger

    key = _audit_key(args, None, create=False)
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
