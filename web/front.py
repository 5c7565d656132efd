"""A front process of `dispatch serve --workers N`: HTTP, WebSockets and reads; changes go to the core.

A front holds what scales with clients: the parsing, checking and authorizing of requests, the
reads (its own reader connections), and the fan-out to the consoles and tablets connected to it
(its own hub, fed with the events the core broadcasts after each commit). Every change — an
alert, a trigger, a login — is a call over the bus to the core process, which owns the single
writer; the answer comes back once the change committed, as in one process.

The objects here stand in for the core's (`RemoteService` for the service, …) with the same
methods the handlers call, so the handlers are the same code in one process and in many.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dispatch.access.accounts import LoginOutcome
from dispatch.access.auth import Principal
from dispatch.access.logins import Logins
from dispatch.config.model import Config
from dispatch.core.presence import Positions
from dispatch.events.bus import EventBus
from dispatch.events.catalog import DomainEvent
from dispatch.hub import Hub
from dispatch.intake.calls import CallOutcome
from dispatch.intake.link_desk import LinkDesk
from dispatch.intake.wire_limits import TimeWindow
from dispatch.ops.metrics import Metrics, intake_channel
from dispatch.service import DispatchService
from dispatch.shared.clock import Clock
from dispatch.shared.errors import CoreUnavailable
from dispatch.shared.process_bus import BusClient, BusClosed, CoreCalls
from dispatch.storage import database
from dispatch.storage.health import DatabaseHealth
from gateways.frigate_video import VideoIntake, VideoOutcome
from gateways.hotline_calls import HotlineIntake
from gateways.mqtt_devices import DeviceDesk
from gateways.mqtt_status import MqttStatus
from web.core_host import CoreStatus
from web.runtime import Runtime, WriterFigures

logger = logging.getLogger(__name__)

STATUS_WAIT_S = 2.0
CORE_WAIT_S = 300.0
"""How long a front waits for its core to start (a first start may migrate a large database)."""
CORE_RETRY_AFTER_S = 2
PRESENCE_INTERVAL_S = 0.25
PRESENCE_REPEAT_S = 1.0


class ChannelCalls:
    """Calls into the core that carry the intake channel this request came in on."""

    def __init__(self, bus: BusClient) -> None:
        self._bus = bus

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._bus.call(name, *args, _intake_channel=intake_channel.get(), **kwargs)
        except BusClosed as err:
            if err.sent:
                message = (
                    "the server's core process went away before answering: the change may have been "
                    "made or not; send it again (alerts are taken once per source_event_id)"
                )
            else:
                message = (
                    "the server's core process does not answer (it is restarting or stopped): nothing "
                    "was written; send it again shortly"
                )
            raise CoreUnavailable(message, retry_after=CORE_RETRY_AFTER_S) from err


class RemoteService(DispatchService):
    """The service's calls, answered by the core's service (checks included)."""

    def __init__(self, config: Config, core: CoreCalls, clock: Clock) -> None:
        # Not the service's own constructor: nothing of its state lives in a front.
        self.config = config
        self._core = core
        self._clock = clock
        self.seen_seq = 0
        """The newest event seq this front has been told of (its sockets' `last_seq`)."""

    def time_window(self) -> TimeWindow:
        return TimeWindow(self._clock.now(), self.config.intake.max_future_skew)

    async def submit_alerts(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.submit_alerts", *args, **kwargs)

    async def trigger_incident(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.trigger_incident", *args, **kwargs)

    async def trigger_task(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.trigger_task", *args, **kwargs)

    async def trigger_department_task(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.trigger_department_task", *args, **kwargs)

    async def resolve_alert(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.resolve_alert", *args, **kwargs)

    async def cancel_alerts(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("service.cancel_alerts", *args, **kwargs)

    async def mark_sent(self, pushed: Sequence[tuple[int, str]]) -> None:
        await self._core.call("service.mark_sent", list(pushed))

    def committed_seq(self) -> int:
        return self.seen_seq


class RemoteLogins(Logins):
    def __init__(self, core: CoreCalls) -> None:
        self._core = core

    async def log_in(self, name: str, password: str, totp: str | None, remote: str | None) -> LoginOutcome:
        outcome: LoginOutcome = await self._core.call("logins.log_in", name, password, totp, remote)
        return outcome

    async def log_out(self, session_id: str, principal: Principal, remote: str | None) -> bool:
        ended: bool = await self._core.call("logins.log_out", session_id, principal, remote)
        return ended


class RemotePositions(Positions):
    """Positions go to the core (which writes them and broadcasts the moves to every front)."""

    def __init__(self, core: CoreCalls) -> None:
        self._core = core
        self.on_moved = None
        self._sending: set[asyncio.Task[None]] = set()

    def report(self, responder_id: str, lat: float, lon: float, at: float) -> None:
        sending = asyncio.ensure_future(self._core.call("positions.report", responder_id, lat, lon, at))
        self._sending.add(sending)
        sending.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Future[None]) -> None:
        self._sending.discard(sending)
        if not sending.cancelled() and sending.exception() is not None:
            logger.warning("a position did not reach the core: %s", sending.exception())

    async def flush(self) -> int:
        await asyncio.gather(*self._sending, return_exceptions=True)
        return 0


class RemoteVideo(VideoIntake):
    def __init__(self, core: CoreCalls) -> None:
        self._core = core

    async def take_event(self, *args: Any, **kwargs: Any) -> VideoOutcome:
        outcome: VideoOutcome = await self._core.call("video.take_event", *args, **kwargs)
        return outcome


class RemoteHotline(HotlineIntake):
    def __init__(self, core: CoreCalls) -> None:
        self._core = core

    async def take(self, *args: Any, **kwargs: Any) -> CallOutcome:
        outcome: CallOutcome = await self._core.call("hotline.take", *args, **kwargs)
        return outcome


class RemoteLink(LinkDesk):
    """The prefecture link's calls, answered by the core's desk (checks included)."""

    def __init__(self, core: CoreCalls) -> None:
        self._core = core

    async def take_county_message(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("link.take_county_message", *args, **kwargs)

    async def instruct(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("link.instruct", *args, **kwargs)

    async def take_acknowledgement(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("link.take_acknowledgement", *args, **kwargs)

    async def receive_instruction(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("link.receive_instruction", *args, **kwargs)

    async def acknowledge(self, *args: Any, **kwargs: Any) -> Any:
        return await self._core.call("link.acknowledge", *args, **kwargs)


class CoreDeadlines:
    """The core's deadline figures, as last told."""

    next_due: float | None = None
    fired = 0


class CoreMqtt:
    def __init__(self) -> None:
        self.status: MqttStatus | None = None

    def stats(self) -> MqttStatus | None:
        return self.status


class CoreDevices(DeviceDesk):
    def __init__(self) -> None:
        self.seen: frozenset[str] = frozenset()

    def seen_lately(self) -> set[str]:
        return set(self.seen)


class FrontRuntime(Runtime):
    """What a front holds: reads, its hub and sockets; the core's objects are called over the bus."""

    owns_state = False

    def __init__(self, config: Config, database_url: str, clock: Clock, bus_path: str) -> None:
        # Not Runtime's constructor: no writer here, and no second MQTT link or deadline clock.
        self.config = config
        self.clock = clock
        self.database_url = database_url
        synchronous = config.storage.sqlite_synchronous.value.upper()
        self.read_engine = database.create_engine(database_url, synchronous=synchronous)
        self.bus = EventBus()
        self.metrics = Metrics()
        self.database_health = DatabaseHealth()
        self.core = BusClient(bus_path, self._told)
        calls = ChannelCalls(self.core)
        self.remote_service = RemoteService(config, calls, clock)
        self.service = self.remote_service
        self.logins = RemoteLogins(calls)
        self.positions = RemotePositions(calls)
        self.video = RemoteVideo(calls)
        self.link = RemoteLink(calls)
        self.hotline = RemoteHotline(calls)
        self.deadlines = CoreDeadlines()  # type: ignore[assignment]
        self.core_devices = CoreDevices()
        self.devices = self.core_devices
        self.hub = Hub(config)
        self.mqtt = None
        self._core_mqtt = CoreMqtt()
        self._status: CoreStatus | None = None
        self._held: list[tuple[str, Any]] | None = []
        """Broadcasts that arrive while the hub loads: applied once it has."""
        self._pushes: set[asyncio.Task[None]] = set()
        self._pushed: list[tuple[int, str]] = []
        self._presence: asyncio.Task[None] | None = None
        self.stopping = False
        """Set once this front stops: the bus closing then is its own doing, not the core going away."""
        self.on_logged_out: list[Callable[[str], None]] = []
        """Told each session id logged out at any front (the web layer forgets it, closes its sockets)."""
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dispatch-read")

    def writer_figures(self) -> WriterFigures:
        status = self._status
        if status is None or self.core.closed.is_set():
            return WriterFigures(False, 0, 0)
        return WriterFigures(status.writer_running, status.batches, status.commands)

    def mqtt_stats(self) -> MqttStatus | None:
        return self._core_mqtt.stats()

    def socket_figures(self) -> tuple[int, int]:
        if self._status is None:
            return self.hub.connection_count, self.hub.dropped_slow
        return self._status.sockets

    async def record_credentials(self, used: dict[str, float]) -> None:
        await self.core.call("credentials.record", used, _intake_channel="other")

    def _told(self, topic: str, payload: Any) -> None:
        if self._held is not None:
            self._held.append((topic, payload))
            return
        self._apply(topic, payload)

    def _apply(self, topic: str, payload: Any) -> None:
        if topic == "events":
            events: list[DomainEvent] = payload
            if events:
                self.remote_service.seen_seq = max(
                    self.remote_service.seen_seq, max(event.seq for event in events)
                )
            self.bus.publish(events)
        elif topic == "logged_out":
            for listener in self.on_logged_out:
                listener(payload)
        elif topic == "positions":
            self.hub.publish_positions(payload)
        elif topic == "status":
            self._status = status = payload
            self.deadlines.next_due = status.next_due
            self.deadlines.fired = status.deadlines_fired
            self._core_mqtt.status = status.mqtt
            self.core_devices.seen = status.seen_lately
            self.remote_service.seen_seq = max(self.remote_service.seen_seq, status.committed_seq)

    async def refresh(self) -> None:
        """The core's status now (readiness, presence), not as last told; unready if it does not answer."""
        try:
            status = await asyncio.wait_for(self.core.call("status", _intake_channel="other"), STATUS_WAIT_S)
        except Exception as err:
            logger.warning("the core did not tell its status: %s", err)
            self._status = None
            return
        self._apply("status", status)

    async def _tell_presence(self) -> None:
        """Say which units have a socket here; the core unites every front's (their `online`).
        Said when it changes, and again every second: the core forgets a front silent for 3 s."""
        told: list[str] | None = None
        told_at = 0.0
        front = f"{os.getpid()}-{id(self)}"
        while not self.core.closed.is_set():
            online = sorted(self.hub.online())
            if online != told or time.monotonic() - told_at >= PRESENCE_REPEAT_S:
                try:
                    sockets = (self.hub.connection_count, self.hub.dropped_slow)
                    await self.core.call("presence.report", front, online, sockets, _intake_channel="other")
                    told, told_at = online, time.monotonic()
                except Exception:
                    logger.warning("could not tell the core who is connected here", exc_info=True)
            await asyncio.sleep(PRESENCE_INTERVAL_S)

    async def start(self) -> None:
        # Forked beside the core, a front may be up before the core's bus: wait for it.
        give_up = time.monotonic() + CORE_WAIT_S
        while True:
            try:
                await self.core.connect()
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.05)
        self._status = await self.core.call("status", _intake_channel="other")
        self.remote_service.seen_seq = self._status.committed_seq
        await self.read(self.hub.load)
        self.hub.on_task_pushed = self._task_pushed
        self.bus.subscribe(DomainEvent, self.hub.publish)
        held, self._held = self._held or [], None
        for topic, payload in held:
            self._apply(topic, payload)
        self._presence = asyncio.create_task(self._tell_presence(), name="presence")

    async def stop(self) -> None:
        self.stopping = True
        if self._presence is not None:
            self._presence.cancel()
            await asyncio.gather(self._presence, return_exceptions=True)
        await self.hub.close_all()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        await self.positions.flush()
        await self.core.close()
        await self.bus.drain()
        self._readers.shutdown(wait=True)
        self.read_engine.dispose()
