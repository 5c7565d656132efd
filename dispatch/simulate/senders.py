"""How the simulator talks to the server: HTTP requests and MQTT publishes, every answer counted.

A refused request, a dropped connection or a broker away never stops the simulator: the
failure is counted, the first of each kind is shown with the server's own message, and the
run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import aiomqtt
import orjson

from dispatch.simulate.tally import Tally

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 15.0
CONCURRENT_REQUESTS = 8
"""At most this many requests out at once: the simulator waits rather than flood the server."""
MQTT_RETRY_S = 10.0
_NUMBER = re.compile(r"/\d+")

ErrorReport = Callable[[str, str], None]
"""(kind, message): kind groups errors for the count, message is shown the first time."""


class HttpSender:
    """Requests to the server's public API with one token each, through one connection pool."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, tally: Tally, report: ErrorReport
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.tally = tally
        self.report = report
        self._slots = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def post(self, path: str, body: Any, token: str) -> tuple[int, Any] | None:
        """The status and JSON answer, or None when the server could not be reached (reported)."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with (
                self._slots,
                self.session.post(
                    self.base_url + path,
                    data=orjson.dumps(body),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                ) as response,
            ):
                raw = await response.read()
                status = response.status
                self.tally.answered(time.perf_counter() - started, path)
        except (aiohttp.ClientError, TimeoutError) as err:
            self.tally.errors += 1
            problem = str(err) or type(err).__name__
            self.report("connection", f"POST {path}: cannot reach {self.base_url}: {problem}")
            return None
        try:
            data = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            data = None
        return status, data

    async def get(self, path: str, token: str) -> tuple[int, Any] | None:
        """The status and JSON answer of a read, or None when the server could not be reached."""
        try:
            async with (
                self._slots,
                self.session.get(
                    self.base_url + path,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                ) as response,
            ):
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            self.tally.errors += 1
            problem = str(err) or type(err).__name__
            self.report("connection", f"GET {path}: cannot reach {self.base_url}: {problem}")
            return None
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, None

    async def alert(self, path: str, body: Any, token: str) -> int | None:
        """Send one alert (sensor, Frigate or hotline); the incident id it joined, if any."""
        self.tally.sent += 1
        answer = await self.post(path, body, token)
        if answer is None:
            return None
        status, data = answer
        if status == 202 and isinstance(data, dict):
            self.tally.received += 1
            if data.get("duplicate"):
                self.tally.duplicates += 1
            incident_id = data.get("incident_id")
            if isinstance(incident_id, int):
                self.tally.incidents.add(incident_id)
                return incident_id
            return None
        if status == 200 and isinstance(data, dict) and "ignored" in data:
            self.tally.ignored += 1
            return None
        self.refused(path, status, data)
        return None

    def refused(self, path: str, status: int, data: Any) -> None:
        self.tally.errors += 1
        error = data.get("error") if isinstance(data, dict) else None
        code = error.get("code", "") if isinstance(error, dict) else ""
        message = error.get("message", "") if isinstance(error, dict) else ""
        hint = ""
        if status == 401:
            hint = " (the server does not know this token: is --database the server's database?)"
        self.report(
            f"{_NUMBER.sub('/{id}', path)} {status} {code}",
            f"POST {path}: {status} {code}: {message or 'no message'}{hint}",
        )


class MqttSensors:
    """Sensor readings published on the gateway's topic (QoS 1), as a field gateway does.

    While the broker is away readings go over HTTP instead, so none is lost; a new connection
    is tried every MQTT_RETRY_S.
    """

    def __init__(
        self, url: str, topic: str, tally: Tally, report: ErrorReport, now: Callable[[], float]
    ) -> None:
        parts = urlsplit(url)
        self.topic = topic
        self.tally = tally
        self.report = report
        self.now = now
        self.broker = f"{parts.hostname or '127.0.0.1'}:{parts.port or 1883}"
        self._client = aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            identifier=f"dispatch-simulator-{os.getpid()}",
            username=unquote(parts.username) if parts.username else None,
            password=os.environ.get("DISPATCH_SIMULATE_MQTT_PASSWORD"),
            tls_context=ssl.create_default_context() if parts.scheme == "mqtts" else None,
        )
        self._connected = False
        self._retry_at = 0.0

    async def publish(self, body: Any) -> bool:
        """True once the broker has it (PUBACK); False: send it another way."""
        if not self._connected:
            if self.now() < self._retry_at:
                return False
            try:
                await self._client.__aenter__()
            except aiomqtt.MqttError as err:
                self._retry_at = self.now() + MQTT_RETRY_S
                self.report("mqtt", f"MQTT broker {self.broker}: {err}; sending readings over HTTP meanwhile")
                return False
            self._connected = True
        try:
            await self._client.publish(self.topic, orjson.dumps(body), qos=1)
        except aiomqtt.MqttError as err:
            await self._disconnect()
            self._retry_at = self.now() + MQTT_RETRY_S
            self.report("mqtt", f"MQTT broker {self.broker}: {err}; sending readings over HTTP meanwhile")
            return False
        self.tally.sent += 1
        self.tally.over_mqtt += 1
        return True

    async def close(self) -> None:
        await self._disconnect()

    async def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            try:
                await self._client.__aexit__(None, None, None)
            except aiomqtt.MqttError:
                logger.debug("MQTT: the broker was gone already")
