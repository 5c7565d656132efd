"""One crash round for bench.s10: serve, load, SIGKILL the process group, restart, time /readyz, check 202s.

The server runs in its own session (so its process group holds it and anything it starts);
the kill is `killpg(SIGKILL)`, never SIGTERM, so nothing gets to flush or close. The restart
runs on the same SQLite file (and its WAL) at once; exec → the first GET /readyz 200 is
polled every 20 ms. Every alert answered 202 before the kill is then looked up in the file
by its (source, source_event_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.harness.servers import free_port

POLL_S = 0.020
READY_TIMEOUT_S = 60.0
CLIENTS = 16
AFTER_ALERTS = 20
"""Alerts posted after the restart, each of which must be answered 202."""


@dataclass
class Launched:
    process: asyncio.subprocess.Process
    url: str
    ready_s: float


@dataclass
class Round:
    """What one kill-and-restart round saw."""

    size: int
    kill_after_s: float
    accepted: int
    answered_other: int
    ready_s: float
    first_ready_s: float
    lost: int
    after_accepted: int
    after_stored: int
    lost_samples: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


async def launch(config: Path, database: Path, directory: Path, port: int) -> Launched:
    """`dispatch serve` in a new session on `database`; returns once GET /readyz says 200."""
    command = [sys.executable, "-m", "dispatch", "serve", "--config", str(config)]
    command += ["--database", f"sqlite:///{database}", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with (directory / "server.log").open("ab") as out:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=directory, start_new_session=True
        )
    ready_s = await wait_ready(process, url, began)
    return Launched(process, url, ready_s)


async def wait_ready(process: asyncio.subprocess.Process, url: str, began: float) -> float:
    """Seconds from `began` (just before exec) to the first 200 of GET /readyz, polled every 20 ms."""
    timeout = aiohttp.ClientTimeout(total=1)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode} before ready")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            if time.perf_counter() - began > READY_TIMEOUT_S:
                raise RuntimeError(f"server not ready in {READY_TIMEOUT_S} s")
            await asyncio.sleep(POLL_S)


async def kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL to the server's whole process group, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


async def stop(process: asyncio.subprocess.Process) -> None:
    """An orderly SIGTERM (the round is over), SIGKILL if it hangs."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            await kill_group(process)


@dataclass
class Recorder:
    """Every (source, source_event_id) answered 202, and a count of every other answer."""

    accepted: list[tuple[str, str]] = field(default_factory=list)
    other: int = 0
    samples: list[str] = field(default_factory=list)

    def note(self, body: bytes, status: int, answer: str) -> None:
        if status == 202:
            alert = orjson.loads(body)
            self.accepted.append((alert["source"], alert["source_event_id"]))
            return
        self.other += 1
        if len(self.samples) < 5:
            self.samples.append(f"{status}: {answer[:160]}")


async def drive(url: str, token: str, workload: Any, recorder: Recorder, stop_at: asyncio.Event) -> None:
    """CLIENTS keep-alive clients, one alert a request, until `stop_at` is set (at the kill)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client(session: aiohttp.ClientSession) -> None:
        while not stop_at.is_set():
            body = workload.request(1)
            try:
                async with session.post(f"{url}/api/v1/alerts", data=body, headers=headers) as response:
                    status, answer = response.status, (await response.read()).decode(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as err:
                status, answer = 0, f"{type(err).__name__}: {err}"
            if stop_at.is_set() and status == 0:
                return  # the kill cut this request off: it was never answered
            recorder.note(body, status, answer)

    connector = aiohttp.TCPConnector(limit=CLIENTS, limit_per_host=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))


def stored_keys(database: Path) -> set[tuple[str, str]]:
    """Every (source, source_event_id) in the alerts table, read from the file read-only."""
    from dispatch.storage.tables import alert_table

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        query = f'SELECT source, source_event_id FROM "{alert_table.name}"'
        return {(source, event) for source, event in connection.execute(query)}
    finally:
        connection.close()


async def after_restart(url: str, token: str, workload: Any) -> Recorder:
    """AFTER_ALERTS alerts posted one by one to the restarted server."""
    recorder = Recorder()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(AFTER_ALERTS):
            body = workload.request(1)
            try:
                async with session.post(f"{url}/api/v1/alerts", data=body, headers=headers) as response:
                    status, answer = response.status, (await response.read()).decode(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as err:
                status, answer = 0, f"{type(err).__name__}: {err}"
            recorder.note(body, status, answer)
    return recorder


async def crash_round(
    config: Path, database: Path, token: str, workload: Any, size: int, kill_after: float
) -> Round:
    """Serve on `database` (a fresh copy), load, kill -9 at a random moment, restart, check."""
    directory = database.parent
    first = await launch(config, database, directory, free_port())
    recorder, stop_at = Recorder(), asyncio.Event()
    load = asyncio.create_task(drive(first.url, token, workload, recorder, stop_at))
    try:
        await asyncio.sleep(kill_after)
        stop_at.set()
        await kill_group(first.process)
        await load
    finally:
        if first.process.returncode is None:
            await kill_group(first.process)
    accepted = list(recorder.accepted)
    second = await launch(config, database, directory, free_port())
    try:
        stored = stored_keys(database)
        lost = [key for key in accepted if key not in stored]
        after = await after_restart(second.url, token, workload)
    finally:
        await stop(second.process)
    stored = stored_keys(database)
    return Round(
        size=size,
        kill_after_s=round(kill_after, 3),
        accepted=len(accepted),
        answered_other=recorder.other,
        ready_s=second.ready_s,
        first_ready_s=first.ready_s,
        lost=len(lost),
        after_accepted=len(after.accepted),
        after_stored=sum(key in stored for key in after.accepted),
        lost_samples=[f"{source}/{event}" for source, event in lost[:5]],
        error_samples=recorder.samples + after.samples,
    )
