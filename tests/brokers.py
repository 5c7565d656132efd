"""Real Mosquitto brokers for tests: the machine's own on 1883, or a private one a test may restart."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from gateways.mqtt_link import TABLETS_SUFFIX

SYSTEM_BROKER = ("127.0.0.1", 1883)
MOSQUITTO = "mosquitto"
MOSQUITTO_PUB = "mosquitto_pub"
READY_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require(binary: str, package: str) -> str:
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{binary} is not installed: apt-get install -y {package} (.ci/run does)")
    return found


class PrivateBroker:
    """A Mosquitto of the test's own on a free loopback port, which the test may stop and start."""

    def __init__(
        self, folder: Path, extra: str = "", *, anonymous: bool = True, persistence: bool = False
    ) -> None:
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        # No persistence by default: a restart loses every session and queued message, the
        # worst case. With it, sessions (and their subscriptions) are saved when it stops.
        kept = "persistence false\n"
        if persistence:
            kept = f"persistence true\npersistence_location {folder}/\n"
            if os.geteuid() == 0:
                kept += "user root\n"  # else it writes as its own user, to a folder only root may enter
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\n"
            f"{kept}log_dest stderr\n{extra}"
        )
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        binary = require(MOSQUITTO, "mosquitto")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - a daemon for the test, not awaited
                [binary, "-c", str(self.conf)], stdout=log, stderr=log
            )
        give_up = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                pytest.fail(f"mosquitto exited: {self.log.read_text(errors='replace')}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.02)
        pytest.fail(f"mosquitto not listening on {self.port}: {self.log.read_text(errors='replace')}")

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)
        self.process = None


@asynccontextmanager
async def private_broker(
    folder: Path, extra: str = "", *, anonymous: bool = True, persistence: bool = False
) -> AsyncIterator[PrivateBroker]:
    broker = PrivateBroker(folder, extra, anonymous=anonymous, persistence=persistence)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def mosquitto_pub(
    port: int, topic: str, payload: Any, *, qos: int = 1, extra: list[str] | None = None
) -> None:
    """Publish with the Mosquitto C client (Debian's mosquitto-clients), as a device would."""
    binary = require(MOSQUITTO_PUB, "mosquitto-clients")
    message = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    process = await asyncio.create_subprocess_exec(
        binary,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-q",
        str(qos),
        "-t",
        topic,
        "-s" if message else "-n",  # the message from stdin, byte for byte; -n: empty
        *(extra or []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate(message)
    assert process.returncode == 0, output.decode(errors="replace")


async def forget_session(port: int, client_id: str) -> None:
    """Drop a persistent session a test left at the machine's broker."""
    with suppress(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, clean_session=True):
            pass


async def forget_server_sessions(port: int, client_id: str) -> None:
    """Drop both sessions a test's server left at the broker (sensors and tablets)."""
    for each in (client_id, f"{client_id}{TABLETS_SUFFIX}"):
        await forget_session(port, each)
