"""`dispatch simulate`: its arguments checked (one clear line and exit 2 when wrong), tokens got, the run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import secrets
import sys
from urllib.parse import urlsplit

from dispatch.config.model import Config, ConfigError, Mqtt, load_config
from dispatch.simulate.access import (
    AccessError,
    Credentials,
    check_database,
    issue,
    read_responder_tokens,
    tablet_units,
)
from dispatch.simulate.runner import Settings, Simulator, stop_on_sigterm
from dispatch.simulate.scenario import SCENARIOS

logger = logging.getLogger(__name__)

MAX_RATE = 1000.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


class UsageError(ValueError):
    """A bad argument; the message names it."""


def parse_duration(text: str) -> float:
    """90, 90s, 10m, 1h, 1h30m → seconds."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise UsageError(f"--duration: {text!r} is not a duration (use e.g. 90s, 10m, 1h30m)")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise UsageError("--duration: must be more than 0")
    return seconds


def parse_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise UsageError(f"--rate: {text!r} is not a number (1.0 is a busy but watchable day)") from None
    if not 0 < rate <= MAX_RATE:
        raise UsageError(f"--rate: must be more than 0 and at most {MAX_RATE:g}")
    return rate


def parse_url(text: str, option: str = "--url") -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{option}: {text!r} is not the server's address (e.g. http://127.0.0.1:8080)")
    return text.rstrip("/")


def parse_tablets(text: str) -> int | None:
    if text == "all":
        return None
    if not text.isdigit():
        raise UsageError(f"--tablets: {text!r} is neither a number nor all")
    return int(text)


def parse_seed(text: str | None) -> int:
    if text is None:
        return secrets.randbelow(1_000_000)
    if not text.isdigit():
        raise UsageError(f"--seed: {text!r} is not a whole number")
    return int(text)


def settings_from(args: argparse.Namespace) -> tuple[Settings, int | None]:
    """The run's settings and how many tablets (None: all), or UsageError."""
    if args.scenario not in SCENARIOS:
        raise UsageError(f"--scenario: {args.scenario!r} is not one of {', '.join(SCENARIOS)}")
    if args.mqtt is not None:
        try:
            Mqtt(url=args.mqtt)
        except ValueError:
            raise UsageError(f"--mqtt: {args.mqtt!r} is not a broker (mqtt://[user@]host[:port])") from None
    settings = Settings(
        url=parse_url(args.url),
        scenario=args.scenario,
        rate=parse_rate(args.rate),
        duration=None if args.duration is None else parse_duration(args.duration),
        seed=parse_seed(args.seed),
        mqtt_url=args.mqtt,
        prefecture_url=None if args.prefecture is None else parse_url(args.prefecture, "--prefecture"),
    )
    if settings.prefecture_url is not None and not os.environ.get("DISPATCH_SIMULATE_PREFECTURE_TOKEN"):
        raise UsageError(
            "--prefecture needs a dispatcher token of the prefecture's server in env "
            "DISPATCH_SIMULATE_PREFECTURE_TOKEN (dispatch token issue --role dispatcher there)"
        )
    return settings, parse_tablets(args.tablets)


def _gateway_token(args: argparse.Namespace) -> str | None:
    token: str | None = args.gateway_token or os.environ.get("DISPATCH_SIMULATE_GATEWAY_TOKEN")
    if token is None:
        if args.responder_tokens:
            raise UsageError("--responder-tokens goes with --gateway-token")
        check_database(args.database)
    return token


def credentials_from(args: argparse.Namespace, config: Config, tablets: int | None) -> Credentials:
    gateway = _gateway_token(args)
    above = os.environ.get("DISPATCH_SIMULATE_PREFECTURE_TOKEN") if args.prefecture else None
    if gateway is None:
        issued = issue(config, args.database, tablet_units(config, tablets), desk=True)
        return dataclasses.replace(issued, prefecture=above)
    responders = read_responder_tokens(args.responder_tokens, config) if args.responder_tokens else {}
    if tablets is not None:
        chosen = {unit.id for unit in tablet_units(config, tablets, only=frozenset(responders))}
        responders = {unit: token for unit, token in responders.items() if unit in chosen}
    return Credentials(gateway, responders, prefecture=above)


def simulate(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings, tablets = settings_from(args)
        _gateway_token(args)  # before the config is read: a mistake is told at once
        config = load_config(args.config)
        credentials = credentials_from(args, config, tablets)
    except (UsageError, AccessError, ConfigError) as err:
        print(f"dispatch simulate: {err}", file=sys.stderr)
        return 2
    simulator = Simulator(config, settings, credentials)

    async def run() -> None:
        stop_on_sigterm()
        await simulator.run()

    # Ctrl-C or SIGTERM: the run printed its last line on the way out.
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(run())
    return 0
