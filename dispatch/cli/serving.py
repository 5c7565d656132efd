"""What every serving process sets up the same way: its log lines and its TLS context."""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl

from dispatch.config.model import ConfigError


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Its INFO lines repeat every state change, which the event log already holds (and cost
    # about 6 % of the CPU under load, bench/mqtt.py).
    logging.getLogger("transitions").setLevel(max(logging.WARNING, logging.getLogger().level))
    # Its INFO lines name its internals at every start; dispatch.storage.migrations says what it did.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


LOOPS = ("uvloop", "asyncio")


def use_loop(name: str) -> None:
    """The event loop every serving process runs: uvloop (libuv; faster sockets) or asyncio's own."""
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(None)


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
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
