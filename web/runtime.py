"""The long-lived objects of one server process: store, writer, bus, service, hub, devices."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from dispatch.access import accounts, tokens
from dispatch.access.credentials import record_uses
from dispatch.access.logins import Logins
from dispatch.config.model import Config
from dispatch.core.deadlines import DeadlineScheduler
from dispatch.core.department_hooks import DepartmentHooks
from dispatch.core.outbound import destinations
from dispatch.core.presence import Positions
from dispatch.core.upstream import UpstreamPlanner
from dispatch.events.bus import EventBus
from dispatch.events.catalog import DepartmentTaskChanged, DomainEvent
from dispatch.events.outbound import OutboundQueued
from dispatch.hub import Hub
from dispatch.intake.link_desk import LinkDesk
from dispatch.ops.duty_desks import DutyDesks
from dispatch.ops.metrics import Metrics
from dispatch.service import DispatchService
from dispatch.shared.clock import Clock
from dispatch.storage import database, ledger, pending_events
from dispatch.storage.audit_key import AuditKey, load_key
from dispatch.storage.health import DatabaseHealth
from dispatch.storage.writer import Writer
from gateways import cap_out
from gateways.frigate_video import VideoIntake
from gateways.hotline_calls import HotlineIntake
from gateways.mqtt_devices import DeviceDesk
from gateways.mqtt_link import MqttLink
from gateways.mqtt_status import MqttStatus
from gateways.outbox_sender import Link, OutboxSender

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class WriterFigures:
    """What health and metrics show of the single writer, read without touching it."""

    running: bool
    batches: int
    """Group commits since start."""
    commands: int
    """Commands committed since start."""


class Runtime:
    """Everything long-lived that one server process holds."""

    owns_state = True
    """This process runs the writer, the deadline clock, positions and the MQTT link (not a front)."""

    def __init__(
        self,
        config: Config,
        database_url: str,
        clock: Clock,
        mqtt_password: str | None = None,
        audit_key: AuditKey | None = None,
        link_tokens: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.audit_key = audit_key or load_key(config.audit.key_file, database_url, None, create=True)
        self.clock = clock
        self.database_url = database_url
        synchronous = config.storage.sqlite_synchronous.value.upper()
        self.write_engine = database.create_engine(database_url, writer=True, synchronous=synchronous)
        self.read_engine = database.create_engine(database_url, synchronous=synchronous)
        self.bus = EventBus()
        self.metrics = Metrics()
        self.database_health = DatabaseHealth()
        self.writer = Writer(
            self.write_engine,
            self.bus,
            clock,
            audit_key=self.audit_key.secret,
            max_batch=config.intake.group_commit_max,
            on_batch=self.metrics.observe_commit,
            on_deadlines=self._deadlines_moved,
            health=self.database_health,
        )
        self.service = DispatchService(config, self.writer, self.metrics)
        self.link = LinkDesk(config, self.writer, self.service.intake)
        self.deadlines = DeadlineScheduler(self.service, clock)
        self.video = VideoIntake(self.service)
        self.hotline = HotlineIntake(self.service)
        self.hub = Hub(config)
        self.positions = Positions(self.writer)
        self.logins = Logins(config, self.writer, self.read, clock)
        self.duty_desks = DutyDesks(config)
        self._pushes: set[asyncio.Task[None]] = set()
        self._pushed: list[tuple[int, str]] = []
        self._readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dispatch-read")
        self.fronts_sockets: Callable[[], tuple[int, int]] | None = None
        """With fronts (`serve --workers N`): their sockets' figures, summed (the core's hub has none)."""
        self.devices = DeviceDesk(
            self.service, self.video, self.positions, clock, self.read, self._task_pushed
        )
        self.mqtt: MqttLink | None = None
        if config.mqtt.url is not None:
            self.mqtt = MqttLink(config.mqtt, self.devices, password=mqtt_password)
        self.outbox = OutboxSender(
            links(config, link_tokens or {}),
            self.writer.submit,
            self.read,
            clock,
            self.metrics.count_outbound,
        )
        self._observe_changes(config)
        self._outbox_task: asyncio.Task[None] | None = None

    def _observe_changes(self, config: Config) -> None:
        """What other servers are to hear of is queued in the transaction of the change."""
        if config.upstream is not None:
            render = functools.partial(cap_out.render, zone=ZoneInfo(config.timezone))
            self.writer.observe(UpstreamPlanner(config, render).observe)
        if any(department.webhook is not None for department in config.departments):
            self.writer.observe(DepartmentHooks(config).observe)

    def writer_figures(self) -> WriterFigures:
        return WriterFigures(self.writer.running, self.writer.batches, self.writer.commands)

    def socket_figures(self) -> tuple[int, int]:
        """WebSocket connections open now and slow consumers dropped since start (all fronts')."""
        if self.fronts_sockets is not None:
            return self.fronts_sockets()
        return self.hub.connection_count, self.hub.dropped_slow

    async def refresh(self) -> None:
        """Bring figures read from elsewhere up to date (a front asks its core; here all is local)."""

    def mqtt_stats(self) -> MqttStatus | None:
        return self.mqtt.stats() if self.mqtt is not None else None

    async def record_credentials(self, used: dict[str, float]) -> None:
        """Store tokens' last uses and chain events waiting outside the log (one writer command)."""
        await self.writer.submit(record_uses(used))

    def _deadlines_moved(self, deadlines: list[float]) -> None:
        self.deadlines.moved(deadlines)

    async def read(self, query: Callable[[sa.Connection], T]) -> T:
        """Run a read-only query on a reader connection, off the event loop."""

        def run() -> T:
            with self.read_engine.connect() as connection:
                return query(connection)

        return await asyncio.get_running_loop().run_in_executor(self._readers, self.database_health.call, run)

    async def lookup_token(self, token: str) -> tokens.TokenGrant | None:
        return await self.read(lambda connection: tokens.lookup_grant(connection, token))

    async def lookup_session(self, session_id: str) -> accounts.Session | None:
        now = self.clock.now()
        return await self.read(lambda connection: accounts.lookup_session(connection, session_id, now))

    def _task_pushed(self, task_id: int, channel: str) -> None:
        """Gather the pushes of this turn of the loop into one writer command."""
        if not self._pushed:
            push = asyncio.create_task(self._mark_sent(), name="mark-sent")
            self._pushes.add(push)
            push.add_done_callback(self._pushes.discard)
        self._pushed.append((task_id, channel))

    async def _mark_sent(self) -> None:
        await asyncio.sleep(0)  # let the other pushes of this turn join
        pushed, self._pushed = self._pushed, []
        await self.service.mark_sent(pushed)

    async def start(self) -> None:
        await asyncio.to_thread(database.create_schema, self.write_engine)
        if await self.read(ledger.begins_unkeyed):
            logger.warning(
                "the event log begins with rows chained without the audit key (written before it was "
                "introduced): `dispatch audit verify` reports them until `dispatch audit rekey` signs them"
            )
        self.writer.start()
        await self.service.prepare()
        await self.writer.submit(pending_events.move_into_log)
        await self.read(self.hub.load)
        self.hub.on_task_pushed = self._task_pushed
        self.positions.on_moved = self.hub.publish_positions
        self.bus.subscribe(DomainEvent, self.hub.publish)
        if self.mqtt is not None:
            self.bus.subscribe(DomainEvent, self.mqtt.notice)
        self.bus.subscribe(DepartmentTaskChanged, self.duty_desks.tell)
        if self.outbox.links:
            self.bus.subscribe(OutboundQueued, self.outbox.notice)
            self._outbox_task = asyncio.create_task(self.outbox.run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            await asyncio.gather(self._outbox_task, return_exceptions=True)
        await self.hub.close_all()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        await self.positions.flush()
        await self.writer.stop()
        await self.bus.drain()
        self._readers.shutdown(wait=True)
        self.write_engine.dispose()
        self.read_engine.dispose()


def links(config: Config, tokens: dict[str, str]) -> list[Link]:
    """The destinations config.yaml names, with the tokens the environment gave at start."""
    return [
        Link(
            each.destination,
            each.name,
            each.endpoint.url,
            tokens.get(each.destination),
            each.endpoint.retry.first,
            each.endpoint.retry.max,
            each.endpoint.timeout,
        )
        for each in destinations(config)
    ]
