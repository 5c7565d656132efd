"""Tokens for the benchmarks' clients, from `dispatch token issue` (as a command or its entry point)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path


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


@dataclass
class Tokens:
    gateway: str
    dispatcher: str
    responders: dict[str, str]


def issue_in_process(database_url: str, config_path: Path) -> dict[str, str]:
    """Every responder's token, issued here through one engine: thousands of units in seconds."""
    import time

    from dispatch.access.auth import issue_token
    from dispatch.config.model import load_config
    from dispatch.storage import database

    config = load_config(config_path)
    engine = database.create_engine(database_url)
    database.create_schema(engine)
    try:
        return {
            unit.id: issue_token(
                engine, config, role="responder", name=unit.name, responder=unit.id, now=time.time()
            )
            for unit in config.responders
        }
    finally:
        engine.dispose()


def make_template(directory: Path, config_path: Path, *, in_process: bool = False) -> Tokens:
    """`directory`/template.db with a gateway, a city dispatcher and every responder's token.

    The responders' tokens come from the command (two processes at a time), or with
    `in_process` from `issue_in_process` (for rosters of thousands).
    """
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
    if in_process:
        return Tokens(gateway, dispatcher, issue_in_process(url, config_path))
    # The command parses config.yaml each time (most of its ~0.1 s): two processes halve the wait.
    units = [unit.id for unit in config.responders]
    names = [unit.name for unit in config.responders]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        issued = pool.map(
            issue,
            itertools.repeat(url),
            itertools.repeat(config_path),
            itertools.repeat("--role"),
            itertools.repeat("responder"),
            itertools.repeat("--name"),
            names,
            itertools.repeat("--responder"),
            units,
        )
        responders = dict(zip(units, issued, strict=True))
    return Tokens(gateway, dispatcher, responders)
