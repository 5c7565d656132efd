"""MQTT for the benchmarks: the broker (the machine's, or a private Mosquitto), mosquitto_pub, pacing.

Publishes awaiting their PUBACK run in the background; paced() sends open-loop at a rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from bench.harness.servers import READY_TIMEOUT_S, free_port

MOSQUITTO_PUB = "mosquitto_pub"
MOSQUITTO_CONF = Path("/etc/mosquitto/mosquitto.conf")
MOSQUITTO_LOG = Path("/var/log/mosquitto/mosquitto.log")
MOSQUITTO_DEFAULTS = {"max_inflight_messages": "20", "max_queued_messages": "1000"}
QUIET = logging.getLogger("bench.mqtt.aiomqtt")
QUIET.setLevel(logging.ERROR)  # our clients keep hundreds of publishes in flight on purpose


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    log: Path
    limits: dict[str, str]
    """What bounds delivery to one subscriber: Mosquitto's limits, as its config file sets them."""

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def client(self, identifier: str, **options: Any) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host, self.port, identifier=identifier, clean_session=True, logger=QUIET, **options
        )

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return -1

    def drops(self, since: int) -> list[str]:
        """The broker's log lines about dropping messages (for any client) since a given offset."""
        if since < 0:
            return []
        try:
            with self.log.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if "dropped" in line][:10]


def limits_of(config_text: str) -> dict[str, str]:
    limits = dict(MOSQUITTO_DEFAULTS)
    for line in config_text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in limits:
            limits[words[0]] = words[1]
    return limits


def read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def mosquitto(url: str, mosquitto_set: list[str], directory: Path) -> AsyncIterator[Broker]:
    """The broker at `url`, or with `mosquitto_set` (KEY=VALUE) a private Mosquitto with those settings."""
    if not mosquitto_set:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise SystemExit(f"--broker: want mqtt://host[:port], got {url!r}")
        limits = limits_of(await asyncio.to_thread(read_text, MOSQUITTO_CONF))
        yield Broker(parts.hostname, parts.port or 1883, MOSQUITTO_LOG, limits)
        return
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/bin")
    if binary is None:
        raise SystemExit("mosquitto is not installed: apt-get install -y mosquitto")
    port = free_port()
    log = directory / "mosquitto.log"
    settings = "\n".join(setting.replace("=", " ", 1) for setting in mosquitto_set)
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"log_dest file {log}\n{settings}\n"
    )
    process = await asyncio.create_subprocess_exec(
        binary, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        give_up = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if process.returncode is not None or time.monotonic() > give_up:
                    raise RuntimeError(f"private mosquitto did not start: {read_text(log)}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        yield Broker("127.0.0.1", port, log, limits_of(settings))
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def mosquitto_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([MOSQUITTO_PUB, "--help"], capture_output=True, text=True, timeout=5).stdout
        return out.splitlines()[1].strip() if len(out.splitlines()) > 1 else ""
    return ""


async def forget_session(broker: Broker, client_id: str) -> None:
    """Drop the server's persistent session, so that the broker keeps nothing of the run."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with broker.client(client_id):
            pass


@dataclass
class Publisher:
    """`mosquitto_pub -l`: a separate C process that publishes one message per line of its stdin."""

    process: asyncio.subprocess.Process

    @classmethod
    async def start(cls, broker: Broker, topic: str, qos: int, log: Path) -> Publisher:
        command = [MOSQUITTO_PUB, "-h", broker.host, "-p", str(broker.port), "-t", topic]
        command += ["-q", str(qos), "-l", "-i", f"bench-pub-{uuid.uuid4().hex[:10]}"]
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=out, stderr=out
            )
        return cls(process)

    async def send(self, lines: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(lines)
        await self.process.stdin.drain()

    async def finish(self) -> float:
        """Closes stdin; returns once mosquitto_pub has published everything (and had the PUBACKs)."""
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()
        await self.process.wait()
        return time.perf_counter()


class Background:
    """Fire-and-forget coroutines (publishes awaiting their PUBACK), kept, counted, awaited at the end."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: Counter[str] = Counter()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures[type(task.exception()).__name__] += 1

    async def wait(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def paced(rate: int, seconds: float, send: Callable[[int], None]) -> list[float]:
    """Calls send(n) open-loop at `rate`/s for `seconds`; returns how late each call was (ms)."""
    began = time.perf_counter() + 0.05
    lags: list[float] = []
    for number in range(int(rate * seconds)):
        due = began + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(max(0.0, time.perf_counter() - due) * 1000)
        send(number)
    return sorted(lags)
