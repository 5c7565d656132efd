"""`dispatch serve --workers N`: one core process and N front processes sharing the port.

The process `dispatch serve` starts is the core: it binds the port (a busy port is said at once,
as with one process), builds the whole runtime — the single writer, deadlines, the MQTT link —
and answers the fronts over the process bus (dispatch/shared/process_bus.py, a Unix socket in a
private temporary folder). It then starts N fronts; each inherits the listening sockets, so the
kernel hands each new connection to one of them, and serves HTTP and WebSockets, sending every
change to the core and fanning the core's events out to its own sockets.

Lifetimes: a front dies with the core (Linux: the parent-death signal; elsewhere: it stops when
the bus closes), so `kill -9` of the core leaves no front holding the port; a front that dies is
started again. SIGTERM or Ctrl-C stops the fronts first (their requests end), then the core
drains its writer, as one process does.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dispatch.config.model import Config, parse_config

if TYPE_CHECKING:
    from web.core_host import CoreHost

logger = logging.getLogger(__name__)

FRONT_ENV = "DISPATCH_FRONT"
RESTART_PAUSE_S = 1.0
STOP_GRACE_S = 15.0
PR_SET_PDEATHSIG = 1
_WATCH = web.AppKey("core-watch", asyncio.Task)


METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
RUN_PREFIX = "dispatch.run"


def run_folder() -> str:
    """This run's private folder (the bus's socket, the metrics' files), removed at exit; folders
    left by a core that was killed (`kill -9` cannot clean up) are removed here first."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == RUN_PREFIX and parts[1].isdigit() and not _alive(int(parts[1])):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}-{os.getpid()}-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def share_metrics(folder: str) -> None:
    """Every process counts into files of one folder; any scrape sums them."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    metrics = os.path.join(folder, "metrics")
    os.mkdir(metrics)
    os.environ[METRICS_ENV] = metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_split(
    args: argparse.Namespace,
    config: Config,
    opened: tuple[list[socket.socket], web.Application],
    folder: str,
) -> int:
    sockets, app = opened
    bus_path = os.path.join(folder, "core.sock")
    spec = _front_spec(args, config, sockets, bus_path)
    # Forked now, before the core starts a thread or a loop: the fronts start warm (everything is
    # imported) and side by side with the core; they wait for its bus.
    fronts = [Front.fork(spec, index) for index in range(args.workers)]
    try:
        asyncio.run(_run_core(args, sockets, app, spec, fronts))
    finally:
        for sock in sockets:
            sock.close()
    return 0


class Front:
    """One front process: forked at start, or started anew in place of one that ended."""

    def __init__(self, pid: int, started: subprocess.Popen[bytes] | None = None) -> None:
        self.pid = pid
        self._started = started
        self.returncode: int | None = None

    @classmethod
    def fork(cls, spec: dict[str, Any], index: int) -> Front:
        pid = os.fork()
        if pid == 0:  # the front: never returns into the core's code, nor runs its exit handlers
            code = 1
            try:
                run_front({**spec, "index": index})
                code = 0
            except BaseException:
                logger.exception("front %d failed", index)
            finally:
                os._exit(code)
        return cls(pid)

    @classmethod
    def start(cls, spec: dict[str, Any], index: int) -> Front:
        """A new interpreter (the core has threads now: forking it would not be safe)."""
        env = {**os.environ, FRONT_ENV: json.dumps({**spec, "index": index})}
        command = [sys.executable, "-c", "from dispatch.cli.workers import front_main; front_main()"]
        started = subprocess.Popen(command, env=env, pass_fds=spec["fds"])
        return cls(started.pid, started)

    def poll(self) -> int | None:
        if self.returncode is None:
            if self._started is not None:
                self.returncode = self._started.poll()
            else:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid != 0:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


async def _run_core(
    args: argparse.Namespace,
    sockets: list[socket.socket],
    app: web.Application,
    spec: dict[str, Any],
    fronts: list[Front],
) -> None:
    from web.core_host import CoreHost
    from web.keys import RUNTIME

    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()  # the runtime starts: schema, writer, deadlines, MQTT, metrics listener
    host = CoreHost(app[RUNTIME], spec["bus"])
    await host.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await _fronts_connected(host, fronts, args.workers)
    scheme = "https" if args.tls_cert else "http"
    port = sockets[0].getsockname()[1]
    print(f"dispatch: serving on {scheme}://{args.host}:{port} ({args.workers} front processes)", flush=True)
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RESTART_PAUSE_S)
            for index, front in enumerate(fronts):
                if front.poll() is not None and not stopping.is_set():
                    logger.error("front %d ended (exit %s): starting it again", index, front.returncode)
                    fronts[index] = Front.start(spec, index)
    finally:
        await _stop_fronts(fronts)
        await host.close()
        await runner.cleanup()


async def _fronts_connected(host: CoreHost, fronts: list[Front], count: int) -> None:
    """Wait until every front has joined the bus (each then serves), or one has ended."""
    # Polled: a child's exit and a bus peer joining are not both events here.
    while host.server.peers < count and all(front.poll() is None for front in fronts):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _front_spec(
    args: argparse.Namespace, config: Config, sockets: list[socket.socket], bus_path: str
) -> dict[str, Any]:
    # A front must not bind the metrics listener too: the core serves it (its registry).
    front_config = {**config.model_dump(mode="json")}
    front_config["metrics"] = {**front_config["metrics"], "listen": None}
    return {
        "config": front_config,
        "database": args.database,
        "bus": bus_path,
        "fds": [sock.fileno() for sock in sockets],
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "log_level": args.log_level,
        "loop": args.loop,
        "core_pid": os.getpid(),
    }


async def _stop_fronts(fronts: list[Front]) -> None:
    for front in fronts:
        if front.poll() is None:
            front.send_signal(signal.SIGTERM)
    waited = 0.0
    while any(front.poll() is None for front in fronts) and waited < STOP_GRACE_S:
        await asyncio.sleep(0.05)
        waited += 0.05
    for front in fronts:
        front.send_signal(signal.SIGKILL)


def front_main() -> None:
    """A front started anew (`Front.start`): its spec comes in the environment."""
    run_front(json.loads(os.environ.pop(FRONT_ENV)))


def run_front(spec: dict[str, Any]) -> None:
    """A front process: the app on the inherited sockets, its runtime calling the core."""
    from dispatch.cli.serving import configure_logging, tls_context, use_loop
    from web.app import create_app
    from web.slow_clients import server_options

    _die_with_parent(spec["core_pid"])
    configure_logging(spec["log_level"])
    use_loop(spec["loop"])
    config = parse_config(spec["config"], "the core's config")
    sockets = [socket.socket(fileno=fd) for fd in spec["fds"]]
    tls = argparse.Namespace(tls_cert=spec["tls_cert"], tls_key=spec["tls_key"])
    app = create_app(config, database_url=spec["database"], core_bus=spec["bus"])
    app.on_startup.append(_stop_when_core_goes)
    web.run_app(
        app,
        sock=sockets,
        ssl_context=tls_context(tls),
        print=None,
        access_log=None,
        **server_options(config),
    )


async def _stop_when_core_goes(app: web.Application) -> None:
    """Wherever the parent-death signal is missing: a front whose core went away stops too."""
    from web.front import FrontRuntime
    from web.keys import RUNTIME

    runtime = app[RUNTIME]
    assert isinstance(runtime, FrontRuntime)

    async def watch() -> None:
        await runtime.core.closed.wait()
        if runtime.stopping:
            return
        logger.error("the core process went away: this front stops")
        os.kill(os.getpid(), signal.SIGTERM)

    app[_WATCH] = asyncio.create_task(watch(), name="core-watch")


def _die_with_parent(core_pid: int) -> None:
    """Linux: SIGKILL this front when the core dies, however it dies (kill -9 included)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != core_pid:  # the core died before the call above
        os._exit(1)
