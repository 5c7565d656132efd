"""Benchmark of WebSocket delivery: memory per idle socket, fan-out to consoles, alert → tablet.

Three scenarios, each against `python -m dispatch serve` children on fresh SQLite files
(copies of one template that holds only the schema and the tokens) with a snapshot of the
repo's config.yaml, and each beside a bare baseline measured the same way by the same clients:

  memory   N idle tablets (1k, 5k, 10k, grown in turn on one server): growth of the server's
           VmRSS per socket, once with clients that do not offer permessage-deflate and once
           with clients that do (as browsers do). Baseline: a trivial aiohttp echo server.
  fanout   N city dispatcher consoles (100, 1k, 5k; a fresh server for each N): time from an
           alert's 202 (the incident is committed by then) to the LAST console receiving its
           `incident_reported` frame, over --incidents new incidents posted one after another.
           Baseline: a bare `websockets` server calling websockets.broadcast() per incident.
  tasks    one tablet for each of the 135 responders; alerts paced open-loop at 200/s and
           1,000/s: time from sending an alert that opens an incident to its `task_assigned`
           frame arriving on the tasked responder's tablet. Tablets accept and complete every
           task over the socket at once, so their units become free again. Most alerts repeat
           at hotspots and join open incidents; --probe-rate of them open new ones and are
           the ones measured. --tasks-consoles N keeps N city consoles connected meanwhile.

Clients are `websockets` connections in child processes (`--client-processes`), separate from
the server; every timestamp is time.time(), so one clock serves all processes. Tokens come
from the `dispatch token issue` command (its entry point called in-process, 137 times, to spare
137 interpreter starts): one per responder; every tablet of a unit shares its unit's token
(several devices per unit), and all consoles share one city dispatcher token. The soft limit
on open files is raised to the hard one; the children inherit it.

    .venv/bin/python bench/ws.py                          # all three, defaults (~5 min)
    .venv/bin/python bench/ws.py --scenario memory --connections 1000,5000,10000
    .venv/bin/python bench/ws.py --scenario fanout --consoles 100,1000 --incidents 50
    .venv/bin/python bench/ws.py --scenario tasks --rates 200,1000 --seconds 10 --runs 3
    .venv/bin/python bench/ws.py --scenario tasks --rates 200 --tasks-consoles 1000 --runs 1

It prints markdown tables and writes JSON (default bench/results/ws.json).
Not a test: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import websockets
from intake import Child, child, free_port, machine, percentile  # bench/ is on sys.path when run
from websockets.version import version as websockets_version

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
DEFAULT_JSON = REPO / "bench" / "results" / "ws.json"
CONNECT_CONCURRENCY = 100
SETTLE_S = 1.0
COMPLETE_TIMEOUT_S = 15.0
TASK_DRAIN_S = 2.0
HOTSPOTS = 40
JITTER_M = 30.0
METERS_PER_DEGREE = 111_320.0
# An `incident_reported` frame of the product is ~560 bytes; the baselines send one as long.
BASELINE_PADDING = "x" * 300


def parse_sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


# File descriptors ------------------------------------------------------------------------------


def raise_fd_limit() -> dict[str, int]:
    """Soft limit up to the hard one; child processes (server, clients) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    raised, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft_before": soft, "soft": raised, "hard": hard}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# Tokens and servers ----------------------------------------------------------------------------


@dataclass
class Tokens:
    gateway: str
    dispatcher: str
    responders: dict[str, str]


def issue(database_url: str, config: Path, *args: str) -> str:
    """One `dispatch token issue …`, through the command's own entry point."""
    from dispatch.cli.main import main as dispatch_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = dispatch_main(["token", "issue", "--config", str(config), "--database", database_url, *args])
    if code != 0:
        raise RuntimeError(f"dispatch token issue {' '.join(args)} failed ({code})")
    return out.getvalue().strip()


def make_template(directory: Path, config_path: Path) -> Tokens:
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


@contextlib.asynccontextmanager
async def dispatch_server(template: Path, config: Path) -> AsyncIterator[Server]:
    """`python -m dispatch serve` on a fresh copy of the template database."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-ws-") as temp:
        directory = Path(temp)
        for suffix in ("", "-wal", "-shm"):
            source = template.with_name(template.name + suffix)
            if source.exists():
                shutil.copyfile(source, directory / f"bench.db{suffix}")
        port = free_port()
        command = [sys.executable, "-m", "dispatch", "serve", "--config", str(config)]
        command += ["--database", f"sqlite:///{directory / 'bench.db'}", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "INFO"]
        async with child(command, port, directory / "server.log", directory) as running:
            server = Server(running)
            yield server
        server.log_text = running.log.read_text(errors="replace")


@contextlib.asynccontextmanager
async def bare_server(kind: str) -> AsyncIterator[Server]:
    with tempfile.TemporaryDirectory(prefix=f"dispatch-bench-{kind}-") as temp:
        port = free_port()
        command = [sys.executable, str(SCRIPT), f"--serve-{kind}", str(port)]
        async with child(command, port, Path(temp) / f"{kind}.log", Path(temp)) as running:
            server = Server(running)
            yield server
        server.log_text = running.log.read_text(errors="replace")


def server_troubles(log_text: str) -> dict[str, Any]:
    """What the server said that a benchmark should report: slow consumers dropped, errors."""
    lines = log_text.splitlines()
    slow = [line for line in lines if "closing slow" in line]
    bad = [line for line in lines if " ERROR " in line or " WARNING " in line or "Traceback" in line]
    return {"slow_consumers_closed": len(slow), "errors_logged": len(bad), "samples": (slow + bad)[:5]}


# Baseline servers (child processes) ------------------------------------------------------------


def serve_echo(port: int) -> None:
    """A trivial aiohttp WebSocket server: a hello on connect, then echo."""
    from aiohttp import web

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"hello"}')
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    async def ready(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def baseline_frame(number: int) -> str:
    """The shape of our `incident_reported` frame, so the clients filter and parse it alike."""
    return orjson.dumps(
        {
            "type": "event",
            "seq": number,
            "event": {
                "seq": number,
                "type": "incident_reported",
                "occurred_at": time.time(),
                "incident_id": number,
                "payload": {"title": BASELINE_PADDING},
            },
        }
    ).decode()


def serve_broadcast(port: int) -> None:
    """A bare `websockets` server: a control socket asks, websockets.broadcast() sends to all others."""
    from http import HTTPStatus

    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    def http(connection: ServerConnection, request: Any) -> Any:
        if request.path == "/readyz":
            return connection.respond(HTTPStatus.OK, "ready\n")
        return None

    async def handler(connection: ServerConnection) -> None:
        if connection.request is not None and connection.request.path == "/control":
            async for message in connection:
                number = int(message)
                broadcast(clients, baseline_frame(number))
                await connection.send(str(number))
            return
        clients.add(connection)
        try:
            await connection.send('{"type":"hello"}')
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, process_request=http, ping_interval=None) as server:
            await server.serve_forever()

    asyncio.run(main())


# Client worker (child process) -----------------------------------------------------------------


class ClientWorker:
    """Holds many sockets; told what to do by JSON lines on stdin, answers on stdout.

    Modes: `idle` reads and drops; `console` notes when each incident_reported arrives and says
    `complete` once every open socket of this process has it; `tablet` notes every
    task_assigned and at once accepts, then completes, the task over the same socket.
    """

    def __init__(self, mode: str, url: str, tokens: list[str], compression: bool) -> None:
        self.mode = mode
        self.url = url
        self.tokens = tokens
        self.compression = compression
        self.sockets: set[Any] = set()
        self.readers: set[asyncio.Task[None]] = set()
        self.live = 0
        self.frames = 0
        self.closed_codes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.incidents: dict[int, list[float]] = {}  # id → [count, first, last, occurred_at]
        self.completed: set[int] = set()
        self.tasks: list[dict[str, Any]] = []
        self.results: Counter[str] = Counter()

    def say(self, body: dict[str, Any]) -> None:
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        sys.stdout.flush()

    async def open(self, count: int, first: int) -> dict[str, Any]:
        began = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures: Counter[str] = Counter()

        async def one(index: int) -> None:
            token = self.tokens[index % len(self.tokens)] if self.tokens else ""
            headers = {"Authorization": f"Bearer {token}"} if token else None
            async with gate:
                try:
                    ws = await websockets.connect(
                        self.url,
                        additional_headers=headers,
                        ping_interval=None,
                        open_timeout=60,
                        close_timeout=2,
                        compression="deflate" if self.compression else None,
                        max_queue=None,
                    )
                    hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
                except Exception as err:  # counted and reported, never fatal
                    failures[f"{type(err).__name__}: {str(err)[:120]}"] += 1
                    return
            self.sockets.add(ws)
            self.live += 1
            reader = asyncio.create_task(self.read(ws, hello.get("responder")))
            self.readers.add(reader)
            reader.add_done_callback(self.readers.discard)

        await asyncio.gather(*(one(first + n) for n in range(count)))
        return {
            "open": self.live,
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(3)),
            "seconds": round(time.monotonic() - began, 2),
            "rss_kib": rss_kib(os.getpid()),
        }

    async def read(self, ws: Any, responder: str | None) -> None:
        try:
            async for message in ws:
                received = time.time()
                self.frames += 1
                if self.mode == "console":
                    self.console_frame(message, received)
                elif self.mode == "tablet":
                    await self.tablet_frame(ws, message, received, responder)
        except websockets.ConnectionClosed:
            pass
        except Exception as err:  # a reader never takes the worker down
            self.errors[f"{type(err).__name__}: {str(err)[:120]}"] += 1
        finally:
            if ws.close_code not in (None, 1000) or ws in self.sockets:
                self.closed_codes[f"{ws.close_code} {ws.close_reason or ''}".strip()] += 1
            self.live -= 1
            if self.mode == "console":
                for incident_id in list(self.incidents):
                    self.check_complete(incident_id)

    def console_frame(self, message: str, received: float) -> None:
        if '"type":"incident_reported"' not in message:
            return
        event = orjson.loads(message)["event"]
        seen = self.incidents.get(event["incident_id"])
        if seen is None:
            occurred = event["occurred_at"]
            self.incidents[event["incident_id"]] = [1, received, received, _epoch(occurred)]
        else:
            seen[0] += 1
            seen[2] = max(seen[2], received)
        self.check_complete(event["incident_id"])

    def check_complete(self, incident_id: int) -> None:
        seen = self.incidents[incident_id]
        if incident_id not in self.completed and seen[0] >= self.live:
            self.completed.add(incident_id)
            self.say(
                {
                    "complete": incident_id,
                    "count": seen[0],
                    "first": seen[1],
                    "last": seen[2],
                    "occurred_at": seen[3],
                }
            )

    async def tablet_frame(self, ws: Any, message: str, received: float, responder: str | None) -> None:
        if '"type":"task_assigned"' in message:
            event = orjson.loads(message)["event"]
            task_id = event["task_id"]
            self.tasks.append(
                {
                    "incident_id": event["incident_id"],
                    "task_id": task_id,
                    "responder_id": event["payload"]["responder_id"],
                    "tablet": responder,
                    "received": received,
                }
            )
            await ws.send(
                orjson.dumps(
                    {"type": "trigger", "id": f"a{task_id}", "task_id": task_id, "trigger": "accept"}
                ).decode()
            )
        elif message.startswith('{"type":"result"'):
            result = orjson.loads(message)
            if not result["ok"]:
                self.results[f"{result['id'][0]}:{result['error']['code']}"] += 1
                return
            task = result["task"]
            self.results[f"{result['id'][0]}:ok"] += 1
            if result["id"].startswith("a"):
                complete = {
                    "type": "trigger",
                    "id": f"c{task['id']}",
                    "task_id": task["id"],
                    "trigger": "complete",
                }
                await ws.send(orjson.dumps(complete).decode())

    async def close_all(self) -> dict[str, Any]:
        sockets, self.sockets = self.sockets, set()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)
        return {"open": self.live}

    def report(self) -> dict[str, Any]:
        return {
            "open": self.live,
            "frames": self.frames,
            "closed_codes": dict(self.closed_codes),
            "errors": dict(self.errors),
            "tasks": self.tasks,
            "results": dict(self.results),
            "rss_kib": rss_kib(os.getpid()),
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        self.say({"started": os.getpid()})
        while line := await stdin.readline():
            command = orjson.loads(line)
            name = command["cmd"]
            if name == "open":
                self.say(await self.open(command["count"], command["first"]))
            elif name == "report":
                self.say(self.report())
            elif name == "forget":
                self.incidents.clear()
                self.completed.clear()
                self.tasks.clear()
                self.say({"forgot": True})
            elif name == "close":
                self.say(await self.close_all())
            elif name == "exit":
                break
        # The kernel closes every socket at once; a close handshake each would take longer than
        # the measurement did, and what the server does then is not measured.
        sys.stdout.flush()
        os._exit(0)


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def run_worker(args: argparse.Namespace) -> None:
    tokens: list[str] = json.loads(Path(args.tokens_file).read_text()) if args.tokens_file else []
    worker = ClientWorker(args.worker, args.url, tokens, compression=args.compression == "deflate")
    asyncio.run(worker.run())


# Client workers, seen from the benchmark ------------------------------------------------------


class ClientProcesses:
    """`processes` client workers on one URL; commands go to all and wait for every answer."""

    def __init__(
        self, mode: str, url: str, tokens: list[str], processes: int, directory: Path, compression: bool
    ) -> None:
        self.mode = mode
        self.url = url
        self.tokens = tokens
        self.count = processes
        self.directory = directory
        self.compression = compression
        self.processes: list[asyncio.subprocess.Process] = []
        self.answers: list[asyncio.Queue[dict[str, Any]]] = []
        self.completes: dict[int, list[dict[str, Any]]] = {}
        self.waiters: dict[int, asyncio.Future[list[dict[str, Any]]]] = {}
        self.pumps: list[asyncio.Task[None]] = []
        self.opened = 0

    async def __aenter__(self) -> ClientProcesses:
        tokens_file = self.directory / f"tokens-{uuid.uuid4().hex[:8]}.json"
        tokens_file.write_text(json.dumps(self.tokens))
        tokens_file.chmod(0o600)
        for number in range(self.count):
            command = [sys.executable, str(SCRIPT), "--worker", self.mode, "--url", self.url]
            command += ["--tokens-file", str(tokens_file)]
            command += ["--compression", "deflate" if self.compression else "off"]
            log = (self.directory / f"client-{self.mode}-{number}.log").open("ab")
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log
            )
            log.close()
            self.processes.append(process)
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self.answers.append(queue)
            self.pumps.append(asyncio.create_task(self._pump(process, queue)))
        for queue in self.answers:
            await asyncio.wait_for(queue.get(), 30)  # "started"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.returncode is None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write(b'{"cmd": "exit"}\n')
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pump in self.pumps:
            pump.cancel()
        await asyncio.gather(*self.pumps, return_exceptions=True)

    async def _pump(self, process: asyncio.subprocess.Process, queue: asyncio.Queue[dict[str, Any]]) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            body = orjson.loads(line)
            if "complete" in body:
                done = self.completes.setdefault(body["complete"], [])
                done.append(body)
                self._wake(body["complete"])
            else:
                await queue.put(body)
        await queue.put({"exited": process.returncode})

    def _wake(self, key: int) -> None:
        done = self.completes.get(key, [])
        waiter = self.waiters.get(key)
        if waiter is not None and not waiter.done() and len(done) >= self.count:
            waiter.set_result(done)

    async def complete(self, key: int, within: float) -> list[dict[str, Any]] | None:
        """Every process's `complete` for an incident, or None when some never came."""
        waiter = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        self._wake(key)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return None

    async def command(self, body: dict[str, Any], within: float = 300) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(orjson.dumps(body) + b"\n")
            await process.stdin.drain()
        return [await asyncio.wait_for(queue.get(), within) for queue in self.answers]

    async def open_to(self, total: int) -> dict[str, Any]:
        """Grow to `total` sockets over all processes; each gets its share of the new ones."""
        wanted = total - self.opened
        shares = [wanted // self.count + (1 if n < wanted % self.count else 0) for n in range(self.count)]
        starts = list(itertools.accumulate([self.opened, *shares]))[:-1]
        began = time.monotonic()
        answers = []
        for process, share, first in zip(self.processes, shares, starts, strict=True):
            assert process.stdin is not None
            process.stdin.write(orjson.dumps({"cmd": "open", "count": share, "first": first}) + b"\n")
            await process.stdin.drain()
        for queue in self.answers:
            answers.append(await asyncio.wait_for(queue.get(), 600))
        self.opened = total
        failures: Counter[str] = Counter()
        for answer in answers:
            failures.update(answer.get("failures", {}))
        return {
            "open": sum(answer.get("open", 0) for answer in answers),
            "failed": sum(answer.get("failed", 0) for answer in answers),
            "failures": dict(failures),
            "seconds": round(time.monotonic() - began, 2),
            "client_rss_kib": sum(answer.get("rss_kib", 0) for answer in answers),
        }

    async def close_all(self) -> None:
        await self.command({"cmd": "close"})
        self.opened = 0

    async def report(self) -> dict[str, Any]:
        reports = await self.command({"cmd": "report"})
        closed: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        results: Counter[str] = Counter()
        for report in reports:
            closed.update(report.get("closed_codes", {}))
            errors.update(report.get("errors", {}))
            results.update(report.get("results", {}))
        return {
            "open": sum(report.get("open", 0) for report in reports),
            "frames": sum(report.get("frames", 0) for report in reports),
            "closed_codes": dict(closed),
            "errors": dict(errors),
            "results": dict(results),
            "tasks": [task for report in reports for task in report.get("tasks", [])],
        }


def ws_url(server: Server, path: str = "/ws") -> str:
    return server.url.replace("http://", "ws://") + path


# (a) memory per idle socket --------------------------------------------------------------------


@dataclass
class MemoryRun:
    server: str
    rss_before_kib: int
    sizes: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed_codes: dict[str, int] = field(default_factory=dict)
    troubles: dict[str, Any] = field(default_factory=dict)


async def measure_memory(
    server: Server,
    name: str,
    tokens: list[str],
    sizes: list[int],
    args: argparse.Namespace,
    directory: Path,
    compression: bool,
) -> MemoryRun:
    pid = server.pid
    async with ClientProcesses(
        "idle", ws_url(server), tokens, args.client_processes, directory, compression
    ) as clients:
        await clients.open_to(50)  # warm: lazy imports, caches, the first allocator arenas
        await clients.close_all()
        await asyncio.sleep(SETTLE_S)
        run = MemoryRun(server=name, rss_before_kib=rss_kib(pid))
        for size in sizes:
            opened = await clients.open_to(size)
            await asyncio.sleep(SETTLE_S)
            after = rss_kib(pid)
            reached = opened["open"]
            run.sizes[size] = {
                **opened,
                "rss_after_kib": after,
                "kib_per_connection": (after - run.rss_before_kib) / reached if reached else float("nan"),
                "server_fds": len(os.listdir(f"/proc/{pid}/fd")),
            }
            print(
                f"  {name}: {reached:,} open ({opened['failed']} failed, {opened['seconds']} s), "
                f"server RSS {after / 1024:,.1f} MiB, "
                f"{run.sizes[size]['kib_per_connection']:.1f} KiB/connection",
                flush=True,
            )
            if opened["failed"]:
                print(f"    failures: {opened['failures']}", flush=True)
                break
        run.closed_codes = (await clients.report())["closed_codes"]
    return run


async def memory_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    sizes = parse_sizes(args.connections)
    modes = [mode.strip() for mode in args.memory_compression.split(",") if mode.strip()]
    tablets = list(tokens.responders.values())
    runs: dict[str, list[MemoryRun]] = {}
    for number in range(args.runs_memory):
        for mode in modes:
            deflate = mode == "deflate"
            print(f"memory run {number + 1}, compression {mode}", flush=True)
            async with dispatch_server(template, args.config) as server:
                run = await measure_memory(server, "dispatch", tablets, sizes, args, directory, deflate)
            run.troubles = server_troubles(server.log_text)
            runs.setdefault(f"dispatch {mode}", []).append(run)
            async with bare_server("echo") as server:
                run = await measure_memory(server, "bare aiohttp", [], sizes, args, directory, deflate)
            runs.setdefault(f"bare aiohttp {mode}", []).append(run)
    medians = {
        name: {
            size: statistics.median(
                run.sizes[size]["kib_per_connection"] for run in each if size in run.sizes
            )
            for size in sizes
            if any(size in run.sizes for run in each)
        }
        for name, each in runs.items()
    }
    lines = [
        f"(a) Idle tablets: server RSS growth per socket (KiB), median of {args.runs_memory} run(s); "
        f"{len(tablets)} responder tokens, the tablets of a unit share its token",
        "",
        "| sockets | permessage-deflate | reached | dispatch KiB/socket | bare aiohttp KiB/socket | ratio "
        "| dispatch RSS MiB | bare RSS MiB | connect s | server fds |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for mode in modes:
            ours = medians[f"dispatch {mode}"].get(size)
            bare = medians[f"bare aiohttp {mode}"].get(size)
            last = runs[f"dispatch {mode}"][-1].sizes.get(size, {})
            last_bare = runs[f"bare aiohttp {mode}"][-1].sizes.get(size, {})
            lines.append(
                f"| {size:,} | {'offered' if mode == 'deflate' else 'off'} | {last.get('open', 0):,} "
                f"| {_f(ours)} | {_f(bare)} | {_ratio(ours, bare)} | {_mib(last.get('rss_after_kib'))} "
                f"| {_mib(last_bare.get('rss_after_kib'))} | {last.get('seconds', '—')} "
                f"| {last.get('server_fds', '—')} |"
            )
    return {
        "sizes": sizes,
        "compression_modes": modes,
        "median_kib_per_connection": medians,
        "runs": {name: [asdict(run) for run in each] for name, each in runs.items()},
        "table": "\n".join(lines),
    }


def _f(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _ratio(ours: float | None, bare: float | None) -> str:
    return "—" if not ours or not bare else f"{ours / bare:.1f}×"


def _mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.0f}"


# (b) fan-out to dispatcher consoles ------------------------------------------------------------


class AlertFactory:
    """Alerts for the bench: new incidents far apart, and repeats at hotspots that correlate."""

    def __init__(self, config_path: Path, seed: int, policy: str | None = None) -> None:
        from dispatch.config.model import Tier, load_config
        from dispatch.core.routing import Router

        self.config = load_config(config_path)
        self.rng = random.Random(seed)
        self.router = Router(self.config)
        self.streets = [node for node in self.config.jurisdictions if node.tier == Tier.STREET]
        self.grid_workers = [
            unit
            for unit in self.config.responders
            if self.config.jurisdiction_by_id[unit.jurisdiction].tier == Tier.STREET
        ]
        common = set.intersection(*(set(unit.skills) for unit in self.grid_workers))
        # Categories any grid worker may take, so the street step finds the nearest one.
        self.categories = [
            c.id
            for c in self.config.categories
            if set(c.skills) <= common and (policy is None or c.policy == policy)
        ]
        self.tag = uuid.uuid4().hex[:8]
        self.numbers = itertools.count(1)
        self.hotspots = [(self.street_point(), self.rng.choice(self.categories)) for _ in range(HOTSPOTS)]

    def street_point(self) -> tuple[float, float]:
        while True:
            node = self.rng.choice(self.streets)
            west, south, east, north = node.polygon.geometry.bounds
            lat, lon = self.rng.uniform(south, north), self.rng.uniform(west, east)
            found = self.router.locate(lat, lon)
            if found is not None and found.id == node.id:
                return lat, lon

    def jitter(self, lat: float, lon: float, metres: float) -> dict[str, float]:
        distance = self.rng.uniform(0, metres)
        bearing = self.rng.uniform(0, 2 * math.pi)
        dlat = distance * math.cos(bearing) / METERS_PER_DEGREE
        dlon = distance * math.sin(bearing) / (METERS_PER_DEGREE * math.cos(math.radians(lat)))
        return {"lat": round(lat + dlat, 6), "lon": round(lon + dlon, 6)}

    def _alert(self, source: str, category: str, location: dict[str, float], kind: str) -> bytes:
        number = next(self.numbers)
        return orjson.dumps(
            {
                "source": source,
                "source_event_id": f"{self.tag}-{number}",
                "kind": kind,
                "category": category,
                "severity": 4,  # grade IV: the standard or urgent ladder, no all-tier notice
                "location": location,
                "title": f"bench {category} #{number}",
            }
        )

    def new_incident(self, near: tuple[float, float] | None = None) -> bytes:
        """A unique source, so it never joins by signal; a random street point or near `near`."""
        lat, lon = near if near is not None else self.street_point()
        location = (
            self.jitter(lat, lon, 150.0) if near is not None else {"lat": round(lat, 6), "lon": round(lon, 6)}
        )
        return self._alert(
            f"bench-cam-{uuid.uuid4().hex[:10]}", self.rng.choice(self.categories), location, "video"
        )

    def near_grid_worker(self) -> bytes:
        unit = self.rng.choice(self.grid_workers)
        return self.new_incident((unit.home.lat, unit.home.lon))

    def hotspot(self, index: int | None = None) -> bytes:
        """The same device on the same thing again: joins the hotspot's open incident."""
        index = self.rng.randrange(HOTSPOTS) if index is None else index
        (lat, lon), category = self.hotspots[index]
        return self._alert(
            f"bench-gauge-{self.tag}-{index}", category, self.jitter(lat, lon, JITTER_M), "sensor"
        )


@dataclass
class Posted:
    status: int
    sent: float
    answered: float
    body: dict[str, Any]


async def post_alert(session: aiohttp.ClientSession, url: str, token: str, body: bytes) -> Posted:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    sent = time.time()
    try:
        async with session.post(f"{url}/api/v1/alerts", data=body, headers=headers) as response:
            status, answer = response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as err:
        return Posted(0, sent, time.time(), {"error": f"{type(err).__name__}: {err}"})
    answered = time.time()
    try:
        parsed = orjson.loads(answer)
    except orjson.JSONDecodeError:
        parsed = {"error": answer[:200].decode(errors="replace")}
    return Posted(status, sent, answered, parsed)


@dataclass
class FanoutRun:
    server: str
    consoles: int
    reached: int
    incidents: int
    delivered_to_all: int
    from_answer_ms: list[float] = field(default_factory=list)
    from_sent_ms: list[float] = field(default_factory=list)
    from_occurred_ms: list[float] = field(default_factory=list)
    first_from_answer_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    frames_per_console: float = 0.0
    closed_codes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    troubles: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {
            "p50_ms": percentile(sorted(self.from_answer_ms), 0.50),
            "p99_ms": percentile(sorted(self.from_answer_ms), 0.99),
            "max_ms": max(self.from_answer_ms, default=float("nan")),
            "sent_p50_ms": percentile(sorted(self.from_sent_ms), 0.50),
            "sent_p99_ms": percentile(sorted(self.from_sent_ms), 0.99),
            "occurred_p50_ms": percentile(sorted(self.from_occurred_ms), 0.50),
            "first_p50_ms": percentile(sorted(self.first_from_answer_ms), 0.50),
            "answer_p50_ms": percentile(sorted(self.answer_ms), 0.50),
        }


async def fanout_dispatch(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path, size: int, seed: int
) -> FanoutRun:
    """A fresh server, `size` consoles, --incidents new incidents one after another.

    Their categories run the standard ladder (60 s to accept at the street step) and a run is
    shorter than that, so no deadline fires and adds its own events to the consoles' stream.
    """
    factory = AlertFactory(args.config, seed, policy="standard")
    async with (
        dispatch_server(template, args.config) as server,
        ClientProcesses(
            "console",
            ws_url(server),
            [tokens.dispatcher],
            args.client_processes,
            directory,
            args.compression == "deflate",
        ) as consoles,
        aiohttp.ClientSession() as session,
    ):
        opened = await consoles.open_to(size)
        await asyncio.sleep(0.5)
        frames_before = (await consoles.report())["frames"]
        run = FanoutRun("dispatch", size, opened["open"], 0, 0)
        for _ in range(args.incidents):
            posted = await post_alert(session, server.url, tokens.gateway, factory.new_incident())
            if posted.status != 202:
                run.errors.append(f"{posted.status}: {posted.body}")
                continue
            run.incidents += 1
            done = await consoles.complete(posted.body["incident_id"], COMPLETE_TIMEOUT_S)
            if done is None:
                run.errors.append(f"incident {posted.body['incident_id']}: not on every console")
            else:
                _note_fanout(run, done, posted.sent, posted.answered)
            await asyncio.sleep(args.gap)
        report = await consoles.report()
        run.frames_per_console = (report["frames"] - frames_before) / max(1, report["open"] * run.incidents)
        run.closed_codes = report["closed_codes"]
    run.troubles = server_troubles(server.log_text)
    _say_fanout(run)
    return run


async def fanout_bare(args: argparse.Namespace, directory: Path, sizes: list[int]) -> list[FanoutRun]:
    runs: list[FanoutRun] = []
    numbers = itertools.count(1)
    async with (
        bare_server("broadcast") as server,
        ClientProcesses(
            "console", ws_url(server), [], args.client_processes, directory, args.compression == "deflate"
        ) as consoles,
        websockets.connect(ws_url(server, "/control"), ping_interval=None, compression=None) as control,
    ):
        for size in sizes:
            opened = await consoles.open_to(size)
            await asyncio.sleep(0.5)
            frames_before = (await consoles.report())["frames"]
            run = FanoutRun("bare websockets.broadcast", size, opened["open"], 0, 0)
            for _ in range(args.incidents):
                number = next(numbers)
                sent = time.time()
                await control.send(str(number))
                await control.recv()
                answered = time.time()
                run.incidents += 1
                done = await consoles.complete(number, COMPLETE_TIMEOUT_S)
                if done is None:
                    run.errors.append(f"frame {number}: not on every console")
                else:
                    _note_fanout(run, done, sent, answered)
                await asyncio.sleep(args.gap)
            report = await consoles.report()
            run.frames_per_console = (report["frames"] - frames_before) / max(
                1, report["open"] * run.incidents
            )
            run.closed_codes = report["closed_codes"]
            runs.append(run)
            _say_fanout(run)
    return runs


def _note_fanout(run: FanoutRun, done: list[dict[str, Any]], sent: float, answered: float) -> None:
    last = max(part["last"] for part in done)
    first = min(part["first"] for part in done)
    occurred = done[0]["occurred_at"]
    received = sum(part["count"] for part in done)
    if received < run.reached:  # sockets closed on the way: "all" is then all that were left
        run.errors.append(f"reached {received} of {run.reached} consoles")
    else:
        run.delivered_to_all += 1
    run.from_answer_ms.append((last - answered) * 1000)
    run.from_sent_ms.append((last - sent) * 1000)
    run.from_occurred_ms.append((last - occurred) * 1000)
    run.first_from_answer_ms.append((first - answered) * 1000)
    run.answer_ms.append((answered - sent) * 1000)


def _say_fanout(run: FanoutRun) -> None:
    figures = run.figures()
    print(
        f"  {run.server}: {run.reached:,} consoles, {run.delivered_to_all}/{run.incidents} to all, "
        f"202→last p50 {figures['p50_ms']:.1f} ms p99 {figures['p99_ms']:.1f} ms, "
        f"{run.frames_per_console:.1f} frames/console/incident",
        flush=True,
    )
    for error in run.errors[:3]:
        print(f"    error: {error}", flush=True)


async def fanout_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    sizes = parse_sizes(args.consoles)
    runs: dict[str, list[FanoutRun]] = {"dispatch": [], "bare websockets.broadcast": []}
    for number in range(args.runs_fanout):
        print(f"fanout run {number + 1}", flush=True)
        for size in sizes:
            runs["dispatch"].append(await fanout_dispatch(args, tokens, template, directory, size, number))
        runs["bare websockets.broadcast"] += await fanout_bare(args, directory, sizes)

    def median_of(name: str, size: int, key: str) -> float:
        values = [run.figures()[key] for run in runs[name] if run.consoles == size]
        return statistics.median(values) if values else float("nan")

    lines = [
        f"(b) New incident → LAST of N city consoles has its incident_reported frame; "
        f"{args.incidents} incidents per size, median of {args.runs_fanout} run(s); ms. For the bare server "
        f"'202' is its control socket's answer once broadcast() has returned; p99 of 50 is the worst but one",
        "",
        "| consoles | server | reached | to all | 202→last p50 | 202→last p99 | max | sent→last p50 "
        "| sent→last p99 | occurred_at→last p50 | sent→202 p50 | 202→first p50 | frames/console/incident "
        "| closes |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    medians: dict[str, dict[int, dict[str, float]]] = {}
    for size in sizes:
        for name in runs:
            those = [run for run in runs[name] if run.consoles == size]
            if not those:
                continue
            figures = {key: median_of(name, size, key) for key in those[0].figures()}
            medians.setdefault(name, {})[size] = figures
            closes = Counter[str]()
            for run in those:
                closes.update(run.closed_codes)
            lines.append(
                f"| {size:,} | {name} | {those[-1].reached:,} | "
                f"{sum(r.delivered_to_all for r in those)}/{sum(r.incidents for r in those)} "
                f"| {_f(figures['p50_ms'])} | {_f(figures['p99_ms'])} | {_f(figures['max_ms'])} "
                f"| {_f(figures['sent_p50_ms'])} | {_f(figures['sent_p99_ms'])} "
                f"| {_f(figures['occurred_p50_ms'])} "
                f"| {_f(figures['answer_p50_ms'])} | {_f(figures['first_p50_ms'])} "
                f"| {statistics.median(r.frames_per_console for r in those):.1f} | {dict(closes) or '—'} |"
            )
    return {
        "sizes": sizes,
        "incidents_per_size": args.incidents,
        "median": medians,
        "runs": {
            name: [asdict(run) | {"figures": run.figures()} for run in each] for name, each in runs.items()
        },
        "table": "\n".join(lines),
    }


# (c) alert → task frame on the tasked unit's tablet --------------------------------------------


@dataclass
class TaskRun:
    rate: int
    seconds: float
    posted: int = 0
    answered_202: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    achieved_per_s: float = 0.0
    post_p50_ms: float = float("nan")
    post_p99_ms: float = float("nan")
    schedule_lag_p99_ms: float = float("nan")
    probes: int = 0
    probes_opened: int = 0
    measured: int = 0
    no_task: int = 0
    wrong_tablet: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    from_answer_p50_ms: float = float("nan")
    targeted_unit_got_it: float = float("nan")
    tasks_seen: int = 0
    tablet_results: dict[str, int] = field(default_factory=dict)
    closed_codes: dict[str, int] = field(default_factory=dict)
    consoles: int = 0
    console_frames: int = 0
    console_closed_codes: dict[str, int] = field(default_factory=dict)
    troubles: dict[str, Any] = field(default_factory=dict)


async def tasks_run(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path, rate: int, seed: int
) -> TaskRun:
    factory = AlertFactory(args.config, seed)
    run = TaskRun(rate=rate, seconds=args.seconds)
    responders = list(tokens.responders)
    deflate = args.compression == "deflate"
    connector = aiohttp.TCPConnector(limit=256)
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(dispatch_server(template, args.config))
        tablets = await stack.enter_async_context(
            ClientProcesses(
                "tablet", ws_url(server), [tokens.responders[r] for r in responders], 1, directory, deflate
            )
        )
        consoles = None
        if args.tasks_consoles:
            consoles = await stack.enter_async_context(
                ClientProcesses("console", ws_url(server), [tokens.dispatcher], 1, directory, deflate)
            )
            opened = await consoles.open_to(args.tasks_consoles)
            run.consoles = opened["open"]
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
        )
        opened = await tablets.open_to(len(responders))
        if opened["failed"]:
            run.error_samples.append(f"tablets: {opened['failures']}")
        # The hotspots' incidents open first; their tasks are accepted and completed at once.
        await asyncio.gather(
            *(post_alert(session, server.url, tokens.gateway, factory.hotspot(n)) for n in range(HOTSPOTS))
        )
        await asyncio.sleep(1.0)
        await tablets.command({"cmd": "forget"})
        probe_every = max(1, round(rate / args.probe_rate))
        total = int(rate * args.seconds)
        probes: list[tuple[float, asyncio.Task[Posted]]] = []
        others: list[tuple[float, asyncio.Task[Posted]]] = []
        began = time.perf_counter() + 0.1
        wall = time.time() - time.perf_counter()
        for index in range(total):
            due = began + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            probe = index % probe_every == 0
            body = factory.near_grid_worker() if probe else factory.hotspot()
            task = asyncio.create_task(post_alert(session, server.url, tokens.gateway, body))
            (probes if probe else others).append((due + wall, task))
        await asyncio.gather(*(task for _, task in probes + others))
        window = time.perf_counter() - began
        await asyncio.sleep(TASK_DRAIN_S)
        report = await tablets.report()
        if consoles is not None:
            seen = await consoles.report()
            run.console_frames, run.console_closed_codes = seen["frames"], seen["closed_codes"]
    run.troubles = server_troubles(server.log_text)
    _score_tasks(run, probes, others, report, window, factory)
    return run


def _score_tasks(
    run: TaskRun,
    probes: list[tuple[float, asyncio.Task[Posted]]],
    others: list[tuple[float, asyncio.Task[Posted]]],
    report: dict[str, Any],
    window: float,
    factory: AlertFactory,
) -> None:
    every = [
        (due, task.result(), is_probe)
        for is_probe, batch in ((True, probes), (False, others))
        for due, task in batch
    ]
    run.posted = len(every)
    accepted = [(due, posted, is_probe) for due, posted, is_probe in every if posted.status == 202]
    run.answered_202 = len(accepted)
    failed = [posted for _, posted, _ in every if posted.status != 202]
    run.errors = len(failed)
    run.error_samples += sorted({f"{p.status}: {str(p.body)[:160]}" for p in failed})[:5]
    run.achieved_per_s = len(accepted) / window
    latencies = sorted((posted.answered - posted.sent) * 1000 for _, posted, _ in accepted)
    run.post_p50_ms, run.post_p99_ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
    lags = sorted(max(0.0, posted.sent - due) * 1000 for due, posted, _ in every)
    run.schedule_lag_p99_ms = percentile(lags, 0.99)
    # The alert that opened an incident is its lowest alert id; only those can bring a task.
    opener: dict[int, int] = {}
    for _, posted, _ in accepted:
        incident_id, alert_id = posted.body["incident_id"], posted.body["alert_id"]
        opener[incident_id] = min(alert_id, opener.get(incident_id, alert_id))
    first_task: dict[int, dict[str, Any]] = {}
    for task in sorted(report["tasks"], key=lambda t: t["received"]):
        first_task.setdefault(task["incident_id"], task)
        if task["responder_id"] != task["tablet"]:
            run.wrong_tablet += 1
    run.tasks_seen = len(report["tasks"])
    probe_answers = [posted for _, posted, is_probe in accepted if is_probe]
    run.probes = sum(1 for _, _, is_probe in every if is_probe)
    measured: list[float] = []
    from_answer: list[float] = []
    for posted in probe_answers:
        if opener.get(posted.body["incident_id"]) != posted.body["alert_id"]:
            continue  # joined an incident another alert opened: no task of its own
        run.probes_opened += 1
        task = first_task.get(posted.body["incident_id"])
        if task is None:
            run.no_task += 1
            continue
        measured.append((task["received"] - posted.sent) * 1000)
        from_answer.append((task["received"] - posted.answered) * 1000)
    measured.sort()
    from_answer.sort()
    run.measured = len(measured)
    run.p50_ms, run.p99_ms = percentile(measured, 0.5), percentile(measured, 0.99)
    run.max_ms = max(measured, default=float("nan"))
    run.from_answer_p50_ms = percentile(from_answer, 0.5)
    run.tablet_results = report["results"]
    run.closed_codes = report["closed_codes"]


async def tasks_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    rates = parse_sizes(args.rates)
    runs: dict[int, list[TaskRun]] = {rate: [] for rate in rates}
    for number in range(args.runs_tasks):
        for rate in rates:
            run = await tasks_run(args, tokens, template, directory, rate, seed=number)
            runs[rate].append(run)
            print(
                f"  tasks run {number + 1} at {rate}/s: {run.achieved_per_s:,.0f} alerts/s answered, "
                f"{run.measured} tasks measured, alert→task p50 {run.p50_ms:.1f} ms p99 {run.p99_ms:.1f} ms, "
                f"POST p99 {run.post_p99_ms:.1f} ms, {run.errors} errors, {run.no_task} without task",
                flush=True,
            )
            for sample in run.error_samples[:3]:
                print(f"    error: {sample}", flush=True)

    def med(rate: int, key: str) -> float:
        return float(statistics.median(getattr(run, key) for run in runs[rate]))

    keys = (
        "achieved_per_s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "from_answer_p50_ms",
        "post_p50_ms",
        "post_p99_ms",
        "schedule_lag_p99_ms",
    )
    medians = {rate: {key: med(rate, key) for key in keys} for rate in rates}
    lines = [
        f"(c) Alert POST sent → task_assigned on the tasked unit's tablet; 135 tablets; "
        f"{args.seconds:g} s paced open-loop per run, ~{args.probe_rate:g}/s of the alerts open incidents "
        f"near "
        f"grid workers' homes, the rest repeat at {HOTSPOTS} hotspots and join their incidents; "
        f"median of {args.runs_tasks} run(s); ms",
        "",
        "| target alerts/s | answered/s | probes / opened / measured | p50 | p99 | max | 202→task p50 "
        "| POST p50 | POST p99 | client lag p99 | errors | no task | wrong tablet | per run p50 / p99 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for rate in rates:
        figures = medians[rate]
        per_run = ", ".join(f"{run.p50_ms:.1f} / {run.p99_ms:.1f}" for run in runs[rate])
        lines.append(
            f"| {rate:,} | {figures['achieved_per_s']:,.0f} | {sum(r.probes for r in runs[rate])} / "
            f"{sum(r.probes_opened for r in runs[rate])} / {sum(r.measured for r in runs[rate])} "
            f"| {_f(figures['p50_ms'])} | {_f(figures['p99_ms'])} | {_f(figures['max_ms'])} "
            f"| {_f(figures['from_answer_p50_ms'])} | {_f(figures['post_p50_ms'])} "
            f"| {_f(figures['post_p99_ms'])} "
            f"| {_f(figures['schedule_lag_p99_ms'])} | {sum(r.errors for r in runs[rate])} "
            f"| {sum(r.no_task for r in runs[rate])} | {sum(r.wrong_tablet for r in runs[rate])} "
            f"| {per_run} |"
        )
    if args.tasks_consoles:
        lines.append("")
        for rate in rates:
            closes = Counter[str]()
            for run in runs[rate]:
                closes.update(run.console_closed_codes)
            frames = statistics.median(run.console_frames for run in runs[rate])
            lines.append(
                f"With {runs[rate][0].consoles:,} city consoles connected at {rate}/s: median "
                f"{frames:,.0f} frames received by them in all, closes {dict(closes) or 'none'}."
            )
    return {
        "rates": rates,
        "consoles": args.tasks_consoles,
        "seconds": args.seconds,
        "probe_rate": args.probe_rate,
        "hotspots": HOTSPOTS,
        "median": medians,
        "runs": {rate: [asdict(run) for run in each] for rate, each in runs.items()},
        "table": "\n".join(lines),
    }


# Entry -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", default="memory,fanout,tasks", help="comma list of memory, fanout, tasks (default all)"
    )
    parser.add_argument(
        "--connections", default="1000,5000,10000", help="(a) idle tablet sockets, grown in turn"
    )
    parser.add_argument(
        "--consoles", default="100,1000,5000", help="(b) city dispatcher consoles, grown in turn"
    )
    parser.add_argument("--incidents", type=int, default=50, help="(b) new incidents per console count")
    parser.add_argument(
        "--gap",
        type=float,
        default=0.05,
        help="(b) seconds between one incident's delivery and the next post",
    )
    parser.add_argument("--rates", default="200,1000", help="(c) alerts/s, paced open-loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="(c) seconds of load per run")
    parser.add_argument(
        "--tasks-consoles", type=int, default=0, help="(c) city consoles connected meanwhile (default 0)"
    )
    parser.add_argument(
        "--probe-rate", type=float, default=20.0, help="(c) of those, alerts/s that open incidents"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="runs of every scenario (overrides the three below)"
    )
    parser.add_argument(
        "--runs-memory", type=int, default=1, help="(a) runs, a fresh server each (default 1)"
    )
    parser.add_argument(
        "--runs-fanout", type=int, default=1, help="(b) runs, a fresh server each (default 1)"
    )
    parser.add_argument(
        "--runs-tasks", type=int, default=3, help="(c) runs per rate, a fresh server each (default 3)"
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="client worker processes for (a) and (b)"
    )
    parser.add_argument(
        "--compression",
        choices=("off", "deflate"),
        default="off",
        help="(b), (c): clients offer permessage-deflate or not (default off)",
    )
    parser.add_argument(
        "--memory-compression",
        default="off,deflate",
        help="(a): measured without and with permessage-deflate offered (default both)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument(
        "--config", type=Path, default=REPO / "config.yaml", help="config file for the server"
    )
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-broadcast", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=("idle", "console", "tablet"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tokens-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is not None:
        args.runs_memory = args.runs_fanout = args.runs_tasks = args.runs
    return args


SCENARIOS: dict[str, Callable[..., Any]] = {
    "memory": memory_scenario,
    "fanout": fanout_scenario,
    "tasks": tasks_scenario,
}


async def bench(args: argparse.Namespace, limits: dict[str, int]) -> dict[str, Any]:
    chosen = [name.strip() for name in args.scenario.split(",") if name.strip()]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario {sorted(unknown)}; pick from {sorted(SCENARIOS)}")
    began = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "websocket delivery",
        "machine": machine() | {"websockets": websockets_version},
        "fd_limit": limits,
        "config": str(args.config),
        "client_processes": args.client_processes,
        "compression": {"memory": args.memory_compression, "fanout and tasks": args.compression},
        "tokens": "one per responder via `dispatch token issue` (its entry point, in-process); "
        "tablets of a unit share its token; consoles share one city dispatcher token",
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-ws-template-") as temp:
        directory = Path(temp)
        # One snapshot of the config for the whole run, whatever happens to the file meanwhile.
        shutil.copyfile(args.config, directory / "config.yaml")
        args.config = directory / "config.yaml"
        tokens = await asyncio.to_thread(make_template, directory, args.config)
        print(f"issued {len(tokens.responders) + 2} tokens in {time.monotonic() - began:.1f} s", flush=True)
        template = directory / "template.db"
        for name in chosen:
            started, load_before = time.monotonic(), os.getloadavg()
            print(f"\n== {name} == (load average {load_before[0]:.2f})", flush=True)
            outcome = await SCENARIOS[name](args, tokens, template, directory)
            outcome["wall_seconds"] = round(time.monotonic() - started, 1)
            # The machine may be shared: how busy it was says how far to trust the figures.
            outcome["load_average_1m"] = {"before": load_before[0], "after": os.getloadavg()[0]}
            result["scenarios"][name] = outcome
            result["wall_seconds"] = round(time.monotonic() - began, 1)
            write_json(args.json, result)  # what is done so far survives a later failure
            print(
                f"\n{outcome['table']}\n\n({name}: {outcome['wall_seconds']} s, load average "
                f"{load_before[0]:.2f} before, {outcome['load_average_1m']['after']:.2f} after)",
                flush=True,
            )
    return result


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_echo is not None:
        serve_echo(args.serve_echo)
        return 0
    if args.serve_broadcast is not None:
        serve_broadcast(args.serve_broadcast)
        return 0
    limits = raise_fd_limit()
    if args.worker is not None:
        run_worker(args)
        return 0
    print(
        f"open files: soft limit {limits['soft_before']} → {limits['soft']} (hard {limits['hard']})",
        flush=True,
    )
    result = asyncio.run(bench(args, limits))
    print("\n\n".join(outcome["table"] for outcome in result["scenarios"].values()))
    print(f"\nwrote {args.json} ({result['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
