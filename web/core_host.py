"""The core process of `dispatch serve --workers N`: its runtime answers the fronts over the bus.

The core is the whole server of one process (web/runtime.py), minus the public port: the single
writer, the deadline scheduler, the MQTT link and the video and hotline gateways live here, once.
It answers the calls the fronts make by name, and broadcasts to every front what each must know:
the events of every commit (their consoles and tablets), moved positions, and its own status
(for their /readyz, /healthz and /metrics), twice a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dispatch.access.auth import Principal
from dispatch.events.catalog import DomainEvent
from dispatch.ops.metrics import intake_channel
from dispatch.shared.process_bus import BusServer, Handler
from gateways.mqtt_status import MqttStatus
from web.runtime import Runtime

logger = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5
PRESENCE_STALE_S = 3.0
"""A front that has not said who is connected to it for this long is taken to have no one."""


@dataclass(frozen=True)
class CoreStatus:
    """What a front shows of the core: the writer, deadlines, MQTT and the units seen over it."""

    writer_running: bool
    batches: int
    commands: int
    next_due: float | None
    deadlines_fired: int
    mqtt: MqttStatus | None
    seen_lately: frozenset[str]
    """Units seen over MQTT lately, and units with a socket open at any front."""
    sockets: tuple[int, int]
    """WebSocket connections open and slow consumers dropped, over all fronts."""
    committed_seq: int


class Presence:
    """Which units have a socket open at each front, and its socket figures, as each front last
    said (at least every second)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._fronts: dict[str, tuple[float, frozenset[str], tuple[int, int]]] = {}

    async def report(self, front: str, online: list[str], sockets: tuple[int, int] = (0, 0)) -> None:
        self._fronts[front] = (time.monotonic(), frozenset(online), sockets)

    def _fresh(self) -> list[tuple[float, frozenset[str], tuple[int, int]]]:
        fresh = time.monotonic() - PRESENCE_STALE_S
        return [report for report in self._fronts.values() if report[0] >= fresh]

    def online(self) -> frozenset[str]:
        return frozenset().union(*(units for _, units, _ in self._fresh()))

    def socket_figures(self) -> tuple[int, int]:
        """Sockets open and slow consumers dropped, summed over the fronts."""
        reports = self._fresh()
        return sum(each[2][0] for each in reports), sum(each[2][1] for each in reports)


def handlers(
    runtime: Runtime, presence: Presence, broadcast: Callable[[str, Any], None]
) -> Mapping[str, Handler]:
    """Every call a front may make, by name: the core's own objects, never a copy of them."""
    service = runtime.service

    async def report_position(responder_id: str, lat: float, lon: float, at: float) -> None:
        runtime.positions.report(responder_id, lat, lon, at)

    async def record_credentials(used: dict[str, float]) -> None:
        await runtime.record_credentials(used)

    async def mark_sent(pushed: list[tuple[int, str]]) -> None:
        await service.mark_sent(pushed)

    async def log_out(session_id: str, principal: Principal, remote: str | None) -> bool:
        ended = await runtime.logins.log_out(session_id, principal, remote)
        broadcast("logged_out", session_id)  # every front forgets it and closes its sockets now
        return ended

    async def status() -> CoreStatus:
        return status_of(runtime, presence)

    calls: dict[str, Handler] = {
        "service.submit_alerts": service.submit_alerts,
        "service.trigger_incident": service.trigger_incident,
        "service.trigger_task": service.trigger_task,
        "service.trigger_department_task": service.trigger_department_task,
        "service.resolve_alert": service.resolve_alert,
        "service.cancel_alerts": service.cancel_alerts,
        "service.mark_sent": mark_sent,
        "video.take_event": runtime.video.take_event,
        "hotline.take": runtime.hotline.take,
        "link.take_county_message": runtime.link.take_county_message,
        "link.instruct": runtime.link.instruct,
        "link.take_acknowledgement": runtime.link.take_acknowledgement,
        "link.receive_instruction": runtime.link.receive_instruction,
        "link.acknowledge": runtime.link.acknowledge,
        "logins.log_in": runtime.logins.log_in,
        "logins.log_out": log_out,
        "positions.report": report_position,
        "credentials.record": record_credentials,
        "status": status,
        "presence.report": presence.report,
    }
    return {name: _in_channel(handler) for name, handler in calls.items()}


def _in_channel(handler: Handler) -> Handler:
    """The call runs in the intake channel the front's route named (metrics count by channel)."""

    async def call(*args: Any, _intake_channel: str = "other", **kwargs: Any) -> Any:
        intake_channel.set(_intake_channel)  # this call's own task: no other call sees it
        return await handler(*args, **kwargs)

    return call


def status_of(runtime: Runtime, presence: Presence) -> CoreStatus:
    figures = runtime.writer_figures()
    return CoreStatus(
        writer_running=figures.running,
        batches=figures.batches,
        commands=figures.commands,
        next_due=runtime.deadlines.next_due,
        deadlines_fired=runtime.deadlines.fired,
        mqtt=runtime.mqtt_stats(),
        seen_lately=frozenset(runtime.devices.seen_lately()) | presence.online(),
        sockets=presence.socket_figures(),
        committed_seq=runtime.service.committed_seq(),
    )


class CoreHost:
    """The bus server of the core, fed by its runtime's event bus and positions."""

    def __init__(self, runtime: Runtime, path: str) -> None:
        self.runtime = runtime
        self.presence = Presence(runtime)
        runtime.fronts_sockets = self.presence.socket_figures
        self.server = BusServer(path, {})
        self.server.handlers = dict(handlers(runtime, self.presence, self.server.broadcast))
        self._events: list[DomainEvent] = []
        self._status: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.server.start()
        self.runtime.bus.subscribe(DomainEvent, self._gather)
        hub_positions = self.runtime.positions.on_moved

        def moved(latest: dict[str, tuple[float, float, float]]) -> None:
            if hub_positions is not None:
                hub_positions(latest)
            self.server.broadcast("positions", latest)

        self.runtime.positions.on_moved = moved
        self._status = asyncio.create_task(self._tell_status(), name="core-status")

    async def close(self) -> None:
        if self._status is not None:
            self._status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._status
        self._flush()
        await self.server.close()

    def _gather(self, event: DomainEvent) -> None:
        """The events of one commit arrive one by one in the same turn: send them as one frame."""
        if not self._events:
            asyncio.get_running_loop().call_soon(self._flush)
        self._events.append(event)

    def _flush(self) -> None:
        events, self._events = self._events, []
        if events:
            self.server.broadcast("events", events)

    async def _tell_status(self) -> None:
        while True:
            try:
                self.server.broadcast("status", status_of(self.runtime, self.presence))
            except Exception:
                logger.exception("could not tell the fronts the core's status")
            await asyncio.sleep(STATUS_INTERVAL_S)
