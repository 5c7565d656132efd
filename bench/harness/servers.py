"""Server child processes: `dispatch serve` on a given config and database, and the bare baselines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.harness import REPO

READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bench_module(module: str, *args: str) -> list[str]:
    """The command that runs one of bench's modules (the child starts in REPO, so it finds them)."""
    return [sys.executable, "-m", module, *args]


@dataclass
class Child:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def on_cpus(cpus: Collection[int] | None) -> Callable[[], None] | None:
    """Run in the child before exec: it, and every thread it starts later, stays on `cpus`."""
    if cpus is None:
        return None
    wanted = set(cpus)
    return lambda: os.sched_setaffinity(0, wanted)


@contextlib.asynccontextmanager
async def child(
    command: list[str],
    port: int,
    log: Path,
    cwd: Path,
    cpus: Collection[int] | None = None,
    ready_path: str = "/readyz",
) -> AsyncIterator[Child]:
    """A server child process (on `cpus` if given), ready (GET ready_path 200), then SIGTERM."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=cwd, preexec_fn=on_cpus(cpus)
        )
    running = Child(process, f"http://127.0.0.1:{port}", log)
    try:
        await _ready(running, ready_path)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _ready(running: Child, path: str) -> None:
    give_up = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession() as session:
        while True:
            if running.process.returncode is not None:
                raise RuntimeError(f"server exited with {running.process.returncode}:\n{running.output()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{running.url}{path}") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > give_up:
                raise RuntimeError(f"server not ready in {READY_TIMEOUT_S}s:\n{running.output()}")
            await asyncio.sleep(0.05)


async def _serving(running: Child) -> None:
    give_up = time.monotonic() + READY_TIMEOUT_S
    while "dispatch: serving on" not in running.log.read_text(errors="replace"):
        if running.process.returncode is not None or time.monotonic() > give_up:
            raise RuntimeError(f"server did not say it serves:\n{running.output()}")
        await asyncio.sleep(0.05)


@dataclass
class Server:
    """A server child; its log is kept once it has stopped, for what it said about the run."""

    child: Child
    log_text: str = ""

    @property
    def url(self) -> str:
        return self.child.url

    @property
    def pid(self) -> int:
        return self.child.process.pid

    @property
    def log(self) -> Path:
        return self.child.log

    @property
    def returncode(self) -> int | None:
        return self.child.process.returncode


@contextlib.asynccontextmanager
async def dispatch_serve(
    config: Path, database_url: str, directory: Path, *options: str, cpus: Collection[int] | None = None
) -> AsyncIterator[Server]:
    """`python -m dispatch serve` on a config and database (and `cpus`), logging to `directory`/server.log."""
    port = free_port()
    command = [sys.executable, "-m", "dispatch", "serve", "--config", str(config)]
    command += ["--database", database_url, "--host", "127.0.0.1", "--port", str(port), *options]
    async with child(command, port, directory / "server.log", directory, cpus) as running:
        server = Server(running)
        await _serving(running)  # with --workers N: every front has joined, not only the first
        yield server
    server.log_text = running.log.read_text(errors="replace")


@contextlib.asynccontextmanager
async def bare_server(kind: str, cpus: Collection[int] | None = None) -> AsyncIterator[Server]:
    """One of bench.harness.baselines' servers (intake, echo, broadcast) in a child process (on `cpus`)."""
    with tempfile.TemporaryDirectory(prefix=f"dispatch-bench-{kind}-") as temp:
        port = free_port()
        command = bench_module("bench.harness.baselines", kind, str(port))
        async with child(command, port, Path(temp) / f"{kind}.log", REPO, cpus) as running:
            server = Server(running)
            yield server
        server.log_text = running.log.read_text(errors="replace")


@contextlib.contextmanager
def code_from(code: Path | None) -> Iterator[None]:
    """A server started meanwhile imports `dispatch` from `code` (a checkout) instead of this one."""
    saved = os.environ.get("PYTHONPATH")
    if code is not None:
        os.environ["PYTHONPATH"] = str(code)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
