"""The MQTT link: persistent broker sessions reading sensors, tablets and Frigate, pushing tasks.

Two sessions: `mqtt.client_id` reads sensors and Frigate; `{client_id}-tablets` reads the
tablets' acks and positions and publishes their tasks. Each has its own queue and in-flight
window at the broker, so a sensor flood never holds back a tablet. At-least-once both ways:

- In: each session is persistent (`clean_session` false, a fixed client id) and every message
  is acknowledged (PUBACK) only once what it carried is committed, using paho-mqtt's manual
  acknowledgement (aiomqtt 2.x does not wrap it yet: empicano/aiomqtt#345). A server killed
  before the commit leaves the message unacknowledged at the broker, which offers it again on
  the next connection; the alert's (source, source_event_id) key makes the repeat harmless.
  Subscriptions are QoS 1: a QoS 2 publish is delivered to us at QoS 1, because QoS 2's PUBREC
  would end the broker's duty before the commit.
- Out: task events are published at QoS 1. Whatever could not be published waits in a bounded
  outbox across outages, and on every (re)connection the assignments of tasks not yet accepted
  or declined are published again: devices must treat a task id they know as a repeat.
  While the tablets' session is up, a task goes to it from the bus callback that saw its commit,
  and the packets of one loop turn are written in one send at the end of the next.

A lost broker never stops the app: HTTP and WebSocket go on, the link reconnects with
exponential backoff and logs once per outage.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt

from dispatch.config.model import Mqtt
from dispatch.events.catalog import DepartmentTaskChanged, DomainEvent, TaskAssigned, TaskChanged
from dispatch.events.frames import event_body
from dispatch.shared.errors import DatabaseUnavailable, DispatchError
from gateways.mqtt import (
    Ack,
    Rejected,
    RejectReason,
    department_task_message,
    read_json,
    result_message,
    task_message,
    translate_ack,
    translate_alerts,
    translate_location,
)
from gateways.mqtt_port import DevicePort
from gateways.mqtt_status import MqttStatus
from gateways.mqtt_topics import TopicKind, Topics

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 100_000
"""Task messages kept for publishing while the broker is away; beyond, the oldest go (counted)."""
STABLE_AFTER_S = 10.0
"""A connection that lasted this long was not flapping: the next outage is logged afresh."""
TABLETS_SUFFIX = "-tablets"
"""The tablets' session's client id is `mqtt.client_id` with this after it."""
HANDLERS_LIMIT = 2_000
"""Messages being handled at once; the loop stops reading the broker beyond."""


class MqttLink:
    """Two broker sessions: sensors and Frigate on one, tablets on the other.

    Each session has its own queue and in-flight window at the broker, so a flood of sensor
    alerts never holds back a tablet's acknowledgement or the tasks going out to tablets.
    """

    def __init__(self, settings: Mqtt, desk: DevicePort, *, password: str | None = None) -> None:
        if settings.url is None:
            raise ValueError("mqtt.url is not set")
        url = urlsplit(settings.url)
        self.settings = settings
        self.desk = desk
        self.topics = Topics(settings.prefix, settings.frigate_prefix)
        self.broker_host = url.hostname or "127.0.0.1"
        self.broker_port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self.broker = f"{self.broker_host}:{self.broker_port}"
        self.received: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.published = 0
        self.outbox_dropped = 0
        self.failed = 0
        """Messages whose handling broke unexpectedly: left unacknowledged for the broker to offer again."""
        self.connected = asyncio.Event()
        """Set while every session is connected and subscribed."""
        self._password = password
        self._username = unquote(url.username) if url.username else settings.username
        self._tls = url.scheme == "mqtts"
        self._outbox: deque[tuple[str, bytes, int | None]] = deque()
        self._publisher: tuple[_Session, aiomqtt.Client] | None = None
        """The tablets' session and its client while connected: what the outbox goes out on."""
        self._in_flight = 0
        self._write_out_at: asyncio.Handle | None = None
        self.sessions = (
            _Session(self, "sensors", settings.client_id, self.topics.intake_filters(), publishes=False),
            _Session(self, "tablets", f"{settings.client_id}{TABLETS_SUFFIX}", self.topics.device_filters()),
        )

    async def run(self) -> None:
        """Forever: both sessions, each reconnecting with backoff on its own."""
        async with asyncio.TaskGroup() as group:
            for session in self.sessions:
                group.create_task(session.run(), name=f"mqtt-{session.name}")

    def session_changed(self) -> None:
        if all(session.live for session in self.sessions):
            self.connected.set()
        else:
            self.connected.clear()

    # The bus side ---------------------------------------------------------------------------

    def notice(self, event: DomainEvent) -> None:
        """Bus subscriber: a responder's task events go to its tasks topic, a department task's
        to its department's."""
        if isinstance(event, DepartmentTaskChanged):
            topic = self.topics.department_tasks(event.department_id)
            self._enqueue(topic, department_task_message(event_body(event)), None)
            return
        if not isinstance(event, TaskAssigned | TaskChanged):
            return
        task_id = event.task_id if isinstance(event, TaskAssigned) else None
        self._enqueue(self.topics.tasks(event.responder_id), task_message(event_body(event)), task_id)

    def _enqueue(self, topic: str, payload: bytes, task_id: int | None, *, first: bool = False) -> None:
        if first:
            self._outbox.appendleft((topic, payload, task_id))
        else:
            self._outbox.append((topic, payload, task_id))
        while len(self._outbox) > OUTBOX_LIMIT:
            self._outbox.popleft()
            self.outbox_dropped += 1
        self._pump()

    def client(self, client_id: str) -> aiomqtt.Client:
        """A session's client, reused for every reconnection (it needs the running loop)."""
        client = aiomqtt.Client(
            self.broker_host,
            self.broker_port,
            identifier=client_id,
            clean_session=False,
            username=self._username,
            password=self._password,
            keepalive=self.settings.keepalive,
            max_inflight_messages=self.settings.max_inflight,
            tls_context=ssl.create_default_context() if self._tls else None,
            # Small messages each way (a PUBACK, a task): Nagle's algorithm against delayed ACKs
            # would hold some back ~40 ms (bench/mqtt.py).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        # Before connecting: messages waiting in the persistent session arrive right after CONNACK.
        client._client.manual_ack_set(True)
        # aiomqtt warns from 10 concurrent publishes on; up to max_inflight is what we intend.
        client.pending_calls_threshold = self.settings.max_inflight + 10
        return client

    # In ---------------------------------------------------------------------------------------

    async def take(self, topic: str, payload: bytes) -> TopicKind:
        parsed = self.topics.parse(topic)
        owner = parsed.owner
        if parsed.kind == TopicKind.SENSOR_ALERTS:
            alerts = translate_alerts(payload, self.desk.max_batch)
            await self.desk.receive_alerts(owner, alerts)
        elif parsed.kind in (TopicKind.ACKS, TopicKind.LOCATION):
            if not self.desk.knows_responder(owner):
                raise Rejected(RejectReason.UNKNOWN_RESPONDER, f"no responder {owner!r} in config.yaml")
            if parsed.kind == TopicKind.LOCATION:
                self.desk.report_position(owner, translate_location(payload))
            else:
                await self._acknowledge(owner, translate_ack(payload))
        elif parsed.kind == TopicKind.FRIGATE_EVENTS:
            await self.desk.frigate_event(read_json(payload))
        else:
            await self.desk.frigate_review(read_json(payload))
        return parsed.kind

    async def _acknowledge(self, responder_id: str, ack: Ack) -> None:
        outcome = await self.desk.task_trigger(responder_id, ack)
        self._enqueue(self.topics.tasks(responder_id), result_message(ack, outcome), None)
        if not outcome["ok"]:
            error = outcome["error"]
            raise Rejected(RejectReason.REFUSED, f"task {ack.task_id} {ack.trigger}: {error['message']}")

    # Out --------------------------------------------------------------------------------------

    async def resend(self) -> None:
        try:
            bodies = await self.desk.unanswered_tasks()
        except Exception:
            logger.exception("MQTT: could not read the unanswered tasks to publish them again")
            return
        for body in bodies:
            responder_id = body["payload"]["responder_id"]
            self._enqueue(self.topics.tasks(responder_id), task_message(body), body["task_id"])
        if bodies:
            logger.info("MQTT: publishing %d unanswered task(s) again", len(bodies))

    def publish_on(self, publisher: tuple[_Session, aiomqtt.Client] | None) -> None:
        """The tablets' session is up (what waits goes out now, the rest at once) or gone (None)."""
        self._publisher = publisher
        self._pump()

    def _pump(self) -> None:
        """Start publishing waiting messages, as many as the in-flight window allows."""
        if self._publisher is None:
            return
        session, client = self._publisher
        started = False
        while self._outbox and self._in_flight < self.settings.max_inflight:
            self._in_flight += 1
            session.spawn(self._publish(client, self._outbox.popleft()), done=self._landed)
            started = True
        if started:
            # The publishes start on the next loop turn; right after the last of them, one send
            # for all their packets, instead of each waiting for the socket to poll writable.
            if self._write_out_at is not None:
                self._write_out_at.cancel()
            self._write_out_at = asyncio.get_running_loop().call_soon(self._write_out, client)

    def _landed(self) -> None:
        self._in_flight -= 1
        self._pump()

    def _write_out(self, client: aiomqtt.Client) -> None:
        self._write_out_at = None
        # paho's packet writer alone, not loop_write: that would also drop the socket's writer
        # registration, which aiomqtt adds a turn late, so the two would race. What this leaves
        # (a full buffer, a broken connection) is aiomqtt's writer callback's to write or report.
        client._client._packet_write()

    async def _publish(self, client: aiomqtt.Client, item: tuple[str, bytes, int | None]) -> None:
        topic, payload, task_id = item
        try:
            await client.publish(topic, payload, qos=1)
        except aiomqtt.MqttError:
            self._enqueue(topic, payload, task_id, first=True)  # for the next connection
            return
        except asyncio.CancelledError:
            self._enqueue(topic, payload, task_id, first=True)
            raise
        self.published += 1
        if task_id is not None:
            self.desk.task_published(task_id)

    def stats(self) -> MqttStatus:
        return {
            "connected": self.connected.is_set(),
            "broker": self.broker,
            "sessions": {session.client_id: session.live for session in self.sessions},
            "received": dict(self.received),
            "rejected": dict(self.rejected),
            "failed": self.failed,
            "published": self.published,
            "outbox": len(self._outbox),
            "outbox_dropped": self.outbox_dropped,
        }


class _Session:
    """One persistent broker session: a client id, its subscriptions, its messages in flight."""

    def __init__(
        self, link: MqttLink, name: str, client_id: str, filters: list[str], *, publishes: bool = True
    ) -> None:
        self.link = link
        self.name = name
        self.client_id = client_id
        self.filters = filters
        self.publishes = publishes
        self.live = False
        self._handler_slots = asyncio.Semaphore(HANDLERS_LIMIT)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Forever: connect, serve, and after an outage reconnect with backoff."""
        settings, broker = self.link.settings, self.link.broker
        client = self.link.client(self.client_id)
        delay = settings.reconnect_min
        outage: str | None = None
        flapping = False
        while True:
            up_since: float | None = None
            try:
                async with client:
                    up_since = time.monotonic()
                    if outage is None:
                        logger.info("MQTT: connected to %s as %s (%s)", broker, self.client_id, self.name)
                    elif not flapping:
                        logger.warning(
                            "MQTT %s: connected to %s again (outage: %s)", self.name, broker, outage
                        )
                    await self._serve(client)
            except Exception as err:
                if not isinstance(err, aiomqtt.MqttError):  # our bug: say so, but keep the link up
                    logger.exception("MQTT %s: the session failed; reconnecting", self.name)
                # A session that drops at once (another server taking our client id, an ACL
                # refusing our subscriptions) keeps backing off and is not logged every time.
                flapping = up_since is not None and time.monotonic() - up_since < STABLE_AFTER_S
                if up_since is not None and not flapping:
                    outage, delay = None, settings.reconnect_min
                if outage is None:
                    outage = str(err) or type(err).__name__
                    logger.warning(
                        "MQTT %s: broker %s unreachable (%s); retrying with backoff up to %.1f s, "
                        "HTTP and WebSocket carry on",
                        self.name,
                        broker,
                        outage,
                        settings.reconnect_max,
                    )
            finally:
                self.live = False
                self.link.session_changed()
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.reconnect_max)

    async def _serve(self, client: aiomqtt.Client) -> None:
        await client.subscribe([(each, 1) for each in self.filters])
        self.live = True
        self.link.session_changed()
        helpers: list[asyncio.Task[None]] = []
        if self.publishes:
            self.link.publish_on((self, client))
            helpers.append(asyncio.create_task(self.link.resend(), name="mqtt-resend"))
        try:
            async for message in client.messages:
                await self._handler_slots.acquire()
                self.spawn(self._handle(client, message), done=self._handler_slots.release)
        finally:
            self.live = False
            if self.publishes:
                self.link.publish_on(None)
            for task in [*helpers, *self._tasks]:
                task.cancel()
            await asyncio.gather(*helpers, *self._tasks, return_exceptions=True)

    def spawn(self, work: Coroutine[Any, Any, None], *, done: Callable[[], None]) -> None:
        """Run `work` while connected; it is cancelled when the connection goes; `done` once it ends."""
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)

        def finished(ended: asyncio.Task[None]) -> None:
            self._tasks.discard(ended)
            done()

        task.add_done_callback(finished)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        link = self.link
        topic = str(message.topic)
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        try:
            kind = await link.take(topic, bytes(payload))
        except Rejected as err:
            link.rejected[err.reason.value] += 1
            logger.warning("MQTT %s: rejected (%s): %s", topic, err.reason.value, err.message)
        except DispatchError as err:
            link.rejected[RejectReason.INVALID.value] += 1
            logger.warning("MQTT %s: rejected (invalid): %s", topic, err.message)
        except asyncio.CancelledError:
            raise  # the connection went: unacknowledged, the broker offers it again
        except DatabaseUnavailable:
            # Nothing was committed: unacknowledged, like a failure. The outage is logged
            # once where it was noticed, not once per message.
            link.failed += 1
            return
        except Exception:
            link.failed += 1
            logger.exception("MQTT %s: handling failed; left for the broker to offer again", topic)
            return
        else:
            link.received[kind.value] += 1
        if message.qos > 0 and self.live:  # after an outage the broker offers it again instead
            client._client.ack(message.mid, message.qos)
