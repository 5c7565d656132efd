"""`dispatch serve`: the server on its sockets, TLS, the first start's admin token, and the demo."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

from aiohttp import web

from dispatch.cli.serving import configure_logging, tls_context, use_loop
from dispatch.cli.settings import audit_key, load
from dispatch.config.link import link_tokens
from dispatch.config.model import Config, ConfigError, parse_config
from dispatch.ops import startup
from dispatch.storage import database
from dispatch.storage.audit_key import AuditKey, AuditKeyError, default_key_file

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(args: argparse.Namespace) -> int:
    from web.slow_clients import server_options

    configure_logging(args.log_level)
    config = load(args)
    if args.mqtt:
        try:
            config = _with_broker(config, args.mqtt)
        except ConfigError as err:
            print(f"dispatch: {err}", file=sys.stderr)
            return 2
    ssl_context = tls_context(args)
    use_loop(args.loop)
    if args.workers < 1:
        print("dispatch: --workers must be 1 or more", file=sys.stderr)
        return 2
    if args.workers > 1:
        from dispatch.cli.workers import run_folder, serve_split, share_metrics

        folder = run_folder()
        share_metrics(folder)  # before prometheus_client is imported (by _open)
        return serve_split(args, config, _open(args, config), folder)
    sockets, app = _open(args, config)
    scheme = "https" if ssl_context else "http"
    port = sockets[0].getsockname()[1]
    print(f"dispatch: serving on {scheme}://{args.host}:{port}", flush=True)
    if ssl_context is None and args.host not in LOCAL_HOSTS:
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


def _with_broker(config: Config, url: str) -> Config:
    """The config with --mqtt as its `mqtt.url`, checked as the file's own would be."""
    return parse_config(
        {**config.model_dump(mode="json"), "mqtt": {**config.mqtt.model_dump(mode="json"), "url": url}},
        "--mqtt",
    )


def _open(args: argparse.Namespace, config: Config) -> tuple[list[socket.socket], web.Application]:
    """The API's sockets and the app; the metrics listener's sockets are the app's own."""
    from web.app import create_app
    from web.metrics import LISTENER as METRICS_LISTENER

    sockets = startup.listen(args.host, args.port)
    try:
        if config.metrics.listen is not None:
            sockets_of_metrics = startup.listen(config.metrics.host, config.metrics.port, "metrics.listen")
            sockets += sockets_of_metrics
        else:
            sockets_of_metrics = []
        key = _start_audit_key(args, config)
        app = create_app(
            config,
            database_url=args.database,
            mqtt_password=os.environ.get("DISPATCH_MQTT_PASSWORD"),
            audit_key=key,
            link_tokens=_link_tokens(config),
        )
        app[METRICS_LISTENER].sockets = sockets_of_metrics
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return [sock for sock in sockets if sock not in sockets_of_metrics], app


def _link_tokens(config: Config) -> dict[str, str]:
    """The outbox's bearer tokens, from the environment variables config.yaml names (once, here)."""
    webhooks = {d.id: d.webhook for d in config.departments if d.webhook is not None}
    tokens = link_tokens(config.upstream, config.downstream, webhooks, os.environ)
    named = [
        (where, endpoint.token_env)
        for where, endpoint in [
            ("upstream", config.upstream),
            *((f"downstream {link.county}", link) for link in config.downstream),
            *((f"department {key} webhook", hook) for key, hook in webhooks.items()),
        ]
        if endpoint is not None and endpoint.token_env is not None
    ]
    for where, variable in named:
        if not os.environ.get(variable or ""):
            logger.warning("%s: environment variable %s is not set; sending without a token", where, variable)
    return tokens


def _start_audit_key(args: argparse.Namespace, config: Config) -> AuditKey:
    # After the port (a busy port is said first and creates nothing), before the database: a
    # key that is missing and cannot be made (PostgreSQL) is one line, and nothing is created.
    # One that the server may make (its first start) is made once the schema is found good, so
    # a refused start leaves no key file behind.
    found: AuditKey | None = None
    try:
        found = audit_key(args, config, create=False)
    except AuditKeyError:
        if not config.audit.key_file and default_key_file(args.database) is None:
            raise
    _bootstrap_admin(args.database, config)
    if found is None:
        found = audit_key(args, config, create=True)
    return found


def demo(args: argparse.Namespace) -> int:
    from dispatch.simulate.demo import run_demo

    # The progress line is the demo's log: the server's INFO lines would scroll it away.
    level = "WARNING" if args.log_level.upper() == "INFO" else args.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_demo(load(args), host=args.host, port=args.port)


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
