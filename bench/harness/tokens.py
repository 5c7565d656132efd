"""Tokens for the benchmarks' clients, from `dispatch token issue` (as a command or its entry point)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


async def cli(*args: str, cwd: Path) -> str:
    """`python -m dispatch ARGS…` in a child process; its standard output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatch",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"dispatch {' '.join(args[:2])} failed ({process.returncode}): {err.decode()}")
    return out.decode().strip()


def issue(database_url: str, config: Path, *args: str) -> str:
    """One `dispatch token issue …`, through the command's own entry point."""
    from dispatch.cli.main import main as dispatch_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = dispatch_main(["token", "issue", "--config", str(config), "--database", database_url, *args])
    if code != 0:
        raise RuntimeError(f"dispatch token issue {' '.join(args)} failed ({code})")
    return out.getvalue().strip()


def issue_responders(database_url: str, config: Any, units: list[tuple[str, str]]) -> dict[str, str]:
    """A responder token for each (id, name), as `dispatch token issue --role responder` makes it
    (its own function, `issue_token`), with the config parsed once: hundreds of units in seconds."""
    from dispatch.access.auth import issue_token
    from dispatch.storage import database
    from dispatch.storage.pending_events import command_line_actor

    engine = database.create_engine(database_url)
    try:
        return {
            unit: issue_token(
                engine,
                config,
                role="responder",
                name=name,
                responder=unit,
                actor=command_line_actor(),
                now=time.time(),
            )
            for unit, name in units
        }
    finally:
        engine.dispose()


@dataclass
class Tokens:
    gateway: str
    dispatcher: str
    responders: dict[str, str]


def make_template(directory: Path, config_path: Path) -> Tokens:
    """`directory`/template.db with a gateway, a city dispatcher and every responder's token
    (issued in this process by `issue_responders`: rosters of thousands in seconds)."""
    from dispatch.config.model import load_config

    config = load_config(config_path)
    url = f"sqlite:///{directory / 'template.db'}"
    gateway = issue(url, config_path, "--role", "gateway", "--name", "bench-gateway")
    dispatcher = issue(
        url,
        config_path,
        "--role",
        "dispatcher",
        "--name",
        "bench-city-desk",
        "--jurisdiction",
        config.root.id,
    )
    responders = issue_responders(url, config, [(unit.id, unit.name) for unit in config.responders])
    return Tokens(gateway, dispatcher, responders)
