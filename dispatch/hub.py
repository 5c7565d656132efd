"""The delivery hub: who is connected, what each may see, and the frames waiting for each.

Events arrive from the bus after their commit. Each becomes one JSON frame, serialized once,
and is queued for every connection whose scope covers it: a responder gets its own tasks and
the incidents they belong to; a dispatcher the incidents located in or owned by its subtree.
A connection's queue is bounded: a client that cannot keep up is closed with a code telling it
to reconnect and resume from its last sequence number; it never slows the bus or anyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from dispatch.access import authz
from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config
from dispatch.events.catalog import (
    DomainEvent,
    IncidentEscalated,
    IncidentNotified,
    IncidentOwnerChanged,
    IncidentReported,
    IncidentUnanswered,
    TaskAssigned,
    TaskChanged,
)
from dispatch.shared.clock import to_rfc3339
from dispatch.storage.tables import incident_table, task_table
from dispatch.storage.wire import EventOut

logger = logging.getLogger(__name__)

BURST_FACTOR = 50
CLOSE_SLOW_CONSUMER = 4429
"""Closed because frames piled up: reconnect and send `resume` with the last seq received."""
CLOSE_CREDENTIAL_ENDED = 4401
"""The session or token that opened the socket ended (logout, revoked, expired): log in again."""


@dataclass(eq=False)
class Connection:
    """One authenticated socket, whatever carries it."""

    principal: Principal
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    queue_size: int
    scope: frozenset[str] | None = None
    queue: asyncio.Queue[tuple[int, str]] = field(default_factory=asyncio.Queue)
    last_seq: int = 0
    closed: bool = False
    sending: bool = False
    """True while a frame waits for the socket to drain: the peer is not reading."""
    sender: asyncio.Task[None] | None = None
    credential: str | None = None
    """The hash of the session (or token) that opened it: ending that closes the socket."""

    def too_slow(self) -> bool:
        # One commit may publish thousands of events at once; a reader that keeps draining its
        # socket rides that out. A peer that stopped reading is cut off at queue_size; anyone
        # at all at BURST_FACTOR times that, to bound memory.
        backlog = self.queue.qsize()
        return backlog > self.queue_size * BURST_FACTOR or (self.sending and backlog > self.queue_size)


class Hub:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._connections: set[Connection] = set()
        self._responders: dict[str, set[Connection]] = defaultdict(set)
        self._dispatchers: set[Connection] = set()
        # What the hub must know of incidents to route their events without a query.
        self._places: dict[int, tuple[str, str]] = {}
        self._crews: dict[int, set[str]] = defaultdict(set)
        self.on_task_pushed: Callable[[int, str], None] | None = None
        self.dropped_slow = 0
        self._closing: set[asyncio.Future[None]] = set()

    # Bookkeeping ------------------------------------------------------------------------------

    def load(self, connection: sa.Connection) -> None:
        """At start: every incident's place and every task's responder."""
        places = sa.select(
            incident_table.c.id, incident_table.c.jurisdiction_id, incident_table.c.owner_jurisdiction_id
        )
        for incident_id, jurisdiction_id, owner_id in connection.execute(places):
            self._places[incident_id] = (jurisdiction_id, owner_id)
        crews = sa.select(task_table.c.incident_id, task_table.c.responder_id)
        for incident_id, responder_id in connection.execute(crews):
            self._crews[incident_id].add(responder_id)

    @property
    def connection_count(self) -> int:
        """Authenticated WebSocket connections open now."""
        return len(self._connections)

    def online(self) -> dict[str, int]:
        """Responder id → how many of its devices are connected now."""
        return {responder: len(conns) for responder, conns in self._responders.items() if conns}

    # Connections ------------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        conn.scope = None if (found := authz.scope(conn.principal, self.config)) is None else frozenset(found)
        self._connections.add(conn)
        if conn.principal.role == Role.RESPONDER and conn.principal.responder_id:
            self._responders[conn.principal.responder_id].add(conn)
        elif conn.principal.role in (Role.DISPATCHER, Role.ADMIN, Role.SCREEN):
            self._dispatchers.add(conn)
        conn.sender = asyncio.create_task(self._send_loop(conn), name="ws-sender")

    async def detach(self, conn: Connection) -> None:
        conn.closed = True
        self._connections.discard(conn)
        self._dispatchers.discard(conn)
        if conn.principal.responder_id:
            self._responders[conn.principal.responder_id].discard(conn)
            if not self._responders[conn.principal.responder_id]:
                del self._responders[conn.principal.responder_id]
        if conn.sender is not None and conn.sender is not asyncio.current_task():
            conn.sender.cancel()
            await asyncio.gather(conn.sender, return_exceptions=True)

    def credentials(self) -> set[str]:
        """The sessions and tokens (their hashes) that opened the sockets open now."""
        return {conn.credential for conn in self._connections if conn.credential is not None}

    async def close_credential(self, credential: str, reason: str) -> int:
        """Close the sockets a session or token opened (logout, revoked); returns how many."""
        closing = [conn for conn in list(self._connections) if conn.credential == credential]
        for conn in closing:
            conn.closed = True
            await conn.close(CLOSE_CREDENTIAL_ENDED, reason)
            await self.detach(conn)
        return len(closing)

    async def close_all(self) -> None:
        for conn in list(self._connections):
            await conn.close(1001, "server shutting down")
            await self.detach(conn)

    # Fan-out ----------------------------------------------------------------------------------

    def publish(self, event: DomainEvent) -> None:
        """Bus handler: queue the event for every connection that may see it."""
        self._learn(event)
        if event.incident_id is None:
            return
        audience = list(self.audience(event))
        if audience:  # serialized once, and only when somebody listens
            frame = event_frame(event)
            for conn in audience:
                self._offer(conn, event.seq, frame)
        for conn, alarm in self._alarms(event):
            self._offer(conn, 0, alarm)  # rides along its event: not subject to the replay check

    def publish_positions(self, moved: dict[str, tuple[float, float, float]]) -> None:
        """Units' newest positions, one frame a flush (a second), to the consoles that see them."""
        if not self._dispatchers:
            return
        units = [
            (self.config.responder_by_id[unit].jurisdiction, unit, lat, lon, at)
            for unit, (lat, lon, at) in moved.items()
            if unit in self.config.responder_by_id
        ]
        for conn in list(self._dispatchers):
            seen = [
                {"id": unit, "lat": lat, "lon": lon, "at": to_rfc3339(at)}
                for jurisdiction, unit, lat, lon, at in units
                if conn.scope is None or jurisdiction in conn.scope
            ]
            if seen:
                self._offer(conn, 0, orjson.dumps({"type": "positions", "positions": seen}).decode())

    def audience(self, event: DomainEvent) -> Iterable[Connection]:
        incident_id = event.incident_id
        assert incident_id is not None
        if isinstance(event, TaskAssigned | TaskChanged):
            yield from list(self._responders.get(event.responder_id, ()))
        elif incident_id in self._crews:
            for responder_id in self._crews[incident_id]:
                yield from list(self._responders.get(responder_id, ()))
        place = self._places.get(incident_id)
        for conn in list(self._dispatchers):
            if conn.scope is None or (place is not None and authz.covers(conn.scope, *place)):
                yield conn

    def _alarms(self, event: DomainEvent) -> Iterable[tuple[Connection, str]]:
        """Escalations and all-tier notices into a dispatcher's own node arrive a second time, loud."""
        targets: list[str] = []
        kind = ""
        if isinstance(event, IncidentEscalated):
            targets, kind = [event.to_jurisdiction_id], "escalated_to_you"
        elif isinstance(event, IncidentNotified):
            targets, kind = list(event.jurisdiction_ids), "notified_all_tiers"
        elif isinstance(event, IncidentUnanswered):
            targets, kind = [event.owner_jurisdiction_id], "unanswered"
        if not targets:
            return
        root = self.config.root.id
        for conn in list(self._dispatchers):
            mine = conn.principal.jurisdiction_id or root
            if conn.principal.role == Role.DISPATCHER and mine in targets:
                yield conn, alarm_frame(event, kind)

    def _learn(self, event: DomainEvent) -> None:
        if event.incident_id is None:
            return
        if isinstance(event, IncidentReported):
            self._places[event.incident_id] = (event.jurisdiction_id, event.owner_jurisdiction_id)
        elif isinstance(event, IncidentOwnerChanged):
            place = self._places.get(event.incident_id)
            if place is not None:
                self._places[event.incident_id] = (place[0], event.to_jurisdiction_id)
        elif isinstance(event, TaskAssigned):
            self._crews[event.incident_id].add(event.responder_id)

    def _offer(self, conn: Connection, seq: int, frame: str) -> None:
        if conn.closed:
            return
        conn.queue.put_nowait((seq, frame))
        if conn.too_slow():
            self.dropped_slow += 1
            conn.closed = True
            logger.info(
                "closing slow %s connection (%d frames waiting)", conn.principal.actor, conn.queue.qsize()
            )
            closing = asyncio.ensure_future(conn.close(CLOSE_SLOW_CONSUMER, "too slow: reconnect and resume"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def restart_sender(self, conn: Connection) -> None:
        """After a replay: live frames flow again, skipping what the replay already sent."""
        if not conn.closed:
            conn.sender = asyncio.create_task(self._send_loop(conn), name="ws-sender")

    async def _send_loop(self, conn: Connection) -> None:
        while not conn.closed:
            seq, frame = await conn.queue.get()
            if seq and seq <= conn.last_seq:
                continue  # already sent by a replay
            conn.sending = True
            await conn.send(frame)
            conn.sending = False
            if seq:
                conn.last_seq = seq
            if self.on_task_pushed is not None and conn.principal.role == Role.RESPONDER:
                task_id = _assigned_task(frame)
                if task_id is not None:
                    self.on_task_pushed(task_id, "websocket")

    # Resume -----------------------------------------------------------------------------------

    def replay_query(self, conn: Connection) -> Callable[..., list[EventOut]]:
        """A read for the events after a seq that this connection may see, in order."""
        from dispatch.storage import queries

        principal, scope = conn.principal, conn.scope

        def read(connection: sa.Connection, after: int, limit: int) -> list[EventOut]:
            if principal.role == Role.RESPONDER:
                return queries.events_for_responder(connection, principal.responder_id or "", after, limit)
            # Only incidents' events, as live (publish): the audit trail (units' status, logins,
            # tokens) is read with GET /api/v1/events.
            return queries.events_after(
                connection, after, limit, None if scope is None else list(scope), incidents_only=True
            )

        return read


def event_frame(event: DomainEvent) -> str:
    return orjson.dumps({"type": "event", "seq": event.seq, "event": event_body(event)}).decode()


def stored_event_frame(event: EventOut) -> str:
    return orjson.dumps({"type": "event", "seq": event["seq"], "event": event}).decode()


def event_body(event: DomainEvent) -> dict[str, Any]:
    """The same shape as GET /api/v1/events returns."""
    return {
        "seq": event.seq,
        "type": event.type,
        "occurred_at": to_rfc3339(event.occurred_at),
        "actor": event.actor,
        "causation_id": event.causation_id,
        "incident_id": event.incident_id,
        "task_id": event.task_id,
        "payload": event.payload(),
    }


def alarm_frame(event: DomainEvent, kind: str) -> str:
    return orjson.dumps(
        {
            "type": "alarm",
            "kind": kind,
            "seq": event.seq,
            "incident_id": event.incident_id,
            "event": event_body(event),
        }
    ).decode()


def _assigned_task(frame: str) -> int | None:
    if '"type":"task_assigned"' not in frame:
        return None
    task_id: int | None = orjson.loads(frame)["event"]["task_id"]
    return task_id
