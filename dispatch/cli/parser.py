"""The `dispatch` command line's arguments: one function per command group."""

from __future__ import annotations

import argparse
import os
from typing import TypeAlias

from dispatch.storage import database

DESCRIPTION = "The `dispatch` command: serve, simulate, user, token, audit, db, config, diagram, mqtt-acl."
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


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
    parser = argparse.ArgumentParser(prog="dispatch", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands, common)
    _add_simulate(commands, common)
    _add_token(commands, common)
    _add_user(commands, common)
    _add_audit(commands, common)
    _add_config(commands)
    _add_db(commands, common)
    _add_diagram(commands)
    _add_mqtt_acl(commands, common)
    return parser


def _add_serve(commands: Commands, common: argparse.ArgumentParser) -> None:
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
        "--loop",
        choices=("uvloop", "asyncio"),
        default=os.environ.get("DISPATCH_LOOP", "asyncio"),
        help="the event loop: asyncio (default; env DISPATCH_LOOP) or uvloop (libuv)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("DISPATCH_WORKERS", "1")),
        metavar="N",
        help="front processes serving HTTP and WebSockets on the port, beside one core process that "
        "holds the single writer (env DISPATCH_WORKERS; default 1: everything in one process)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="a living demo: a throwaway database (removed at exit), demo logins, and the simulator "
        "playing a flood day against this server (ignores --database)",
    )


def _add_simulate(commands: Commands, common: argparse.ArgumentParser) -> None:
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


def _add_token(commands: Commands, common: argparse.ArgumentParser) -> None:
    token = commands.add_parser("token", help="access tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    issue = token_commands.add_parser("issue", parents=[common], help="print a new token")
    issue.add_argument("--role", required=True, help="admin, dispatcher, responder or gateway")
    issue.add_argument("--name", required=True, help="who holds it (shown in the audit trail)")
    issue.add_argument("--jurisdiction", help="dispatcher: the subtree it may see and act on")
    issue.add_argument("--responder", help="responder: the unit id of config.yaml")
    issue.add_argument(
        "--department",
        help="dispatcher: a department's sub-center (config.yaml departments); it sees the incidents "
        "its department leads or co-handles and works its department tasks",
    )
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


def _add_user(commands: Commands, common: argparse.ArgumentParser) -> None:
    user = commands.add_parser("user", help="people's accounts for the login page")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", parents=[common], help="add an account and set its password")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="dispatcher, responder, admin or screen (the big screen)")
    add.add_argument("--jurisdiction", help="dispatcher, screen: the subtree it sees and acts on (none: all)")
    add.add_argument("--responder", help="responder: its unit id in config.yaml")
    add.add_argument(
        "--department",
        help="dispatcher: a department's sub-center (config.yaml departments); it sees the incidents "
        "its department leads or co-handles and works its department tasks",
    )
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


def _add_audit(commands: Commands, common: argparse.ArgumentParser) -> None:
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


def _add_config(commands: Commands) -> None:
    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file")
    check.add_argument("file")


def _add_db(commands: Commands, common: argparse.ArgumentParser) -> None:
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


def _add_diagram(commands: Commands) -> None:
    commands.add_parser("diagram", help="print the state machines as Mermaid")


def _add_mqtt_acl(commands: Commands, common: argparse.ArgumentParser) -> None:
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
