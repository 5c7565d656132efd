"""The delivery hub: who is connected, what each may see, and the frames waiting for each.

Events arrive from the bus after their commit. Each becomes one JSON frame, serialized once,
and is queued for every connection whose scope covers it: a responder gets its own tasks and
the incidents they belong to; a dispatcher the incidents located in or owned by its subtree,
and a department's dispatcher only those its department leads or co-handles, with its own
department tasks' events (even once its department is taken off the incident).
A connection's queue is bounded: a client that cannot keep up is closed with a code telling it
to reconnect and resume from its last sequence number; it never slows the bus or anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
import sqlalchemy as sa

from dispatch.access import authz
from dispatch.access.auth import Principal, Role
from dispatch.config.model import Config
from dispatch.events.catalog import (
    DepartmentTaskChanged,
    DepartmentTaskEscalated,
    DomainEvent,
    IncidentDepartmentAdded,
    IncidentDepartmentRemoved,
    IncidentEscalated,
    IncidentMerged,
    IncidentNotified,
    IncidentOwnerChanged,
    IncidentReported,
    IncidentUnanswered,
    InstructionReceived,
    TaskAssigned,
    TaskChanged,
)
from dispatch.events.frames import alarm_frame, event_frame
from dispatch.shared.clock import to_rfc3339
from dispatch.shared.wire_frames import Frame, wire_frame
from dispatch.shared.write_ticks import WriteTicks
from dispatch.storage.tables import incident_table, task_table
from dispatch.storage.wire import EventOut

logger = logging.getLogger(__name__)

BURST_FACTOR = 50
FLUSH_INTERVAL_S = 0.04
"""A socket written less than this ago gathers its frames for one write a tick; a quiet one's go at once."""
CLOSE_SLOW_CONSUMER = 4429
"""Closed because frames piled up: reconnect and send `resume` with the last seq received."""
CLOSE_CREDENTIAL_ENDED = 4401
"""The session or token that opened the socket ended (logout, revoked, expired): log in again."""

Scope = frozenset[str] | None
Console = tuple[Scope, str | None]
"""What decides which incidents a console sees: its jurisdiction scope and its department."""


@dataclass(eq=False)
class Connection:
    """One authenticated socket, whatever carries it."""

    principal: Principal
    send: Callable[[str], Awaitable[None]]
    """Sends one message and waits while the peer's buffer is full (hello, replies, replays)."""
    close: Callable[[int, str], Awaitable[None]]
    write: Callable[[bytes], None]
    """Hands whole frames' bytes to the socket's buffer at once: never waits, never interleaves."""
    backed_up: Callable[[], bool]
    """The socket's buffer is over its high-water mark: the peer is not reading."""
    drained: Callable[[], Awaitable[None]]
    """Returns once the socket's buffer is below its high-water mark again."""
    queue_size: int
    scope: Scope = None
    department: str | None = None
    """A department dispatcher's department: it sees that department's incidents only."""
    pending: list[Frame] = field(default_factory=list)
    last_seq: int = 0
    closed: bool = False
    replaying: bool = False
    """A replay is under way: live frames wait for it, then go out unless it sent them."""
    waiting: asyncio.Task[None] | None = None
    """Set while frames wait for the peer to read what it was sent already."""
    credential: str | None = None
    """The hash of the session (or token) that opened it: ending that closes the socket."""

    def too_slow(self) -> bool:
        # One commit may publish thousands of events at once; a reader that keeps draining its
        # socket rides that out. A peer that stopped reading is cut off at queue_size; anyone
        # at all at BURST_FACTOR times that, to bound memory.
        backlog = len(self.pending)
        return backlog > self.queue_size * BURST_FACTOR or (
            self.waiting is not None and backlog > self.queue_size
        )


class Hub:
    """Routes each event to the sockets that may see it and writes each socket's frames in one piece.

    Why not a task per socket awaiting its send: with 1,000 consoles every event meant 1,000
    task wake-ups and 1,000 send() calls on the loop that also answers intake. Now publishing
    only appends the shared frame to each socket's list; one callback writes each socket's
    frames in one piece, never waiting: at the end of the loop turn for a socket that was quiet
    for a tick (a tablet's task goes at once), on its tick for one written less than a tick ago
    (a busy console: one send() a tick). A socket whose buffer is full is skipped (its own task
    waits for it to drain) and closed once its list outgrows queue_size.
    """

    def __init__(self, config: Config, *, now: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._connections: set[Connection] = set()
        self._responders: dict[str, set[Connection]] = defaultdict(set)
        self._dispatchers: dict[Console, set[Connection]] = defaultdict(set)
        # What the hub must know of incidents to route their events without a query.
        self._places: dict[int, tuple[str, str]] = {}
        self._departments: dict[int, tuple[str, ...]] = {}
        self._crews: dict[int, set[str]] = defaultdict(set)
        self.on_task_pushed: Callable[[int, str], None] | None = None
        self.dropped_slow = 0
        self._closing: set[asyncio.Future[None]] = set()
        self._writes = WriteTicks(self._deliver, FLUSH_INTERVAL_S, now)

    # Bookkeeping ------------------------------------------------------------------------------

    def load(self, connection: sa.Connection) -> None:
        """At start: every incident's place and every task's responder."""
        places = sa.select(
            incident_table.c.id,
            incident_table.c.jurisdiction_id,
            incident_table.c.owner_jurisdiction_id,
            incident_table.c.departments,
        )
        for incident_id, jurisdiction_id, owner_id, departments in connection.execute(places):
            self._places[incident_id] = (jurisdiction_id, owner_id)
            self._departments[incident_id] = tuple(departments)
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
        conn.department = authz.department(conn.principal)
        self._connections.add(conn)
        if conn.principal.role == Role.RESPONDER and conn.principal.responder_id:
            self._responders[conn.principal.responder_id].add(conn)
        elif conn.principal.role in (Role.DISPATCHER, Role.ADMIN, Role.SCREEN):
            self._dispatchers[(conn.scope, conn.department)].add(conn)

    async def detach(self, conn: Connection) -> None:
        conn.closed = True
        self._connections.discard(conn)
        self._writes.forget(conn)
        console = (conn.scope, conn.department)
        consoles = self._dispatchers.get(console)
        if consoles is not None:
            consoles.discard(conn)
            if not consoles:
                del self._dispatchers[console]
        if conn.principal.responder_id:
            self._responders[conn.principal.responder_id].discard(conn)
            if not self._responders[conn.principal.responder_id]:
                del self._responders[conn.principal.responder_id]
        await self._stop_waiting(conn)

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
        audience = self.audience(event)
        if audience:  # serialized once, and only when somebody listens
            task_id = event.task_id if isinstance(event, TaskAssigned) else None
            frame = Frame(event.seq, wire_frame(event_frame(event)), task_id)
            for conn in audience:
                self._offer(conn, frame)
        alarmed = self._alarmed(event)
        if alarmed:  # rides along its event: not subject to the replay check
            alarm = Frame(0, wire_frame(alarm_frame(event, alarmed[1])))
            for conn in alarmed[0]:
                self._offer(conn, alarm)

    def publish_positions(self, moved: dict[str, tuple[float, float, float]]) -> None:
        """Units' newest positions, one frame a flush (a second), to the consoles that see them."""
        units = [
            (self.config.responder_by_id[unit].jurisdiction, unit, lat, lon, at)
            for unit, (lat, lon, at) in moved.items()
            if unit in self.config.responder_by_id
        ]
        for (scope, _), consoles in list(self._dispatchers.items()):
            seen = [
                {"id": unit, "lat": lat, "lon": lon, "at": to_rfc3339(at)}
                for jurisdiction, unit, lat, lon, at in units
                if scope is None or jurisdiction in scope
            ]
            if seen and consoles:  # one frame per scope, shared by its consoles
                frame = Frame(0, wire_frame(orjson.dumps({"type": "positions", "positions": seen}).decode()))
                for conn in list(consoles):
                    self._offer(conn, frame)

    def audience(self, event: DomainEvent) -> list[Connection]:
        incident_id = event.incident_id
        assert incident_id is not None
        found: list[Connection] = []
        if isinstance(event, TaskAssigned | TaskChanged):
            found += self._responders.get(event.responder_id, ())
        elif incident_id in self._crews:
            for responder_id in self._crews[incident_id]:
                found += self._responders.get(responder_id, ())
        place = self._places.get(incident_id)
        departments = self._departments.get(incident_id, ())
        if isinstance(event, DepartmentTaskChanged):
            departments = (*departments, event.department_id)
        for (scope, department), consoles in self._dispatchers.items():  # once per scope, not per socket
            if department is not None and department not in departments:
                continue
            if scope is None or (place is not None and authz.covers(scope, *place)):
                found += consoles
        return found

    def _alarmed(self, event: DomainEvent) -> tuple[list[Connection], str] | None:
        """Escalations and all-tier notices into a dispatcher's own node arrive a second time, loud."""
        targets: list[str] = []
        kind = ""
        if isinstance(event, IncidentEscalated):
            targets, kind = [event.to_jurisdiction_id], "escalated_to_you"
        elif isinstance(event, IncidentNotified):
            targets, kind = list(event.jurisdiction_ids), "notified_all_tiers"
        elif isinstance(event, IncidentUnanswered):
            targets, kind = [event.owner_jurisdiction_id], "unanswered"
        elif isinstance(event, DepartmentTaskEscalated):
            targets, kind = [event.city_jurisdiction_id], "department_task_escalated"
        elif isinstance(event, InstructionReceived):  # the owner's desk and every desk above it
            place = self._places.get(event.incident_id or 0)
            owner = place[1] if place is not None else self.config.root.id
            targets, kind = [node.id for node in self.config.ancestors(owner)], "instruction"
        if not targets:
            return None
        root = self.config.root.id
        found = [  # the city's own desks: a department's dispatcher is not the center alarmed
            conn
            for (_, department), consoles in self._dispatchers.items()
            if department is None
            for conn in consoles
            if conn.principal.role == Role.DISPATCHER and (conn.principal.jurisdiction_id or root) in targets
        ]
        return (found, kind) if found else None

    def _learn(self, event: DomainEvent) -> None:
        if event.incident_id is None:
            return
        if isinstance(event, IncidentReported):
            self._places[event.incident_id] = (event.jurisdiction_id, event.owner_jurisdiction_id)
            self._departments[event.incident_id] = tuple(event.departments)
        elif isinstance(event, IncidentDepartmentAdded | IncidentDepartmentRemoved):
            self._departments[event.incident_id] = tuple(event.departments)
        elif isinstance(event, IncidentMerged) and event.into_incident_id != event.incident_id:
            # Co-handlers of the absorbed incident stay on the case (core/incidents.py merge_into).
            into = self._departments.get(event.into_incident_id, ())
            absorbed = self._departments.get(event.incident_id, ())
            self._departments[event.into_incident_id] = (*into, *(d for d in absorbed if d not in into))
        elif isinstance(event, IncidentOwnerChanged):
            place = self._places.get(event.incident_id)
            if place is not None:
                self._places[event.incident_id] = (place[0], event.to_jurisdiction_id)
        elif isinstance(event, TaskAssigned):
            self._crews[event.incident_id].add(event.responder_id)

    def _offer(self, conn: Connection, frame: Frame) -> None:
        if conn.closed:
            return
        conn.pending.append(frame)
        if len(conn.pending) > conn.queue_size and conn.too_slow():  # the cheap test first: 1,000s a tick
            self._drop_slow(conn)
            return
        self._writes.wants(conn)

    def _drop_slow(self, conn: Connection) -> None:
        self.dropped_slow += 1
        conn.closed = True
        self._writes.forget(conn)
        logger.info("closing slow %s connection (%d frames waiting)", conn.principal.actor, len(conn.pending))
        conn.pending.clear()
        closing = asyncio.ensure_future(conn.close(CLOSE_SLOW_CONSUMER, "too slow: reconnect and resume"))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    def _deliver(self, conn: Connection) -> bool:
        """Write what waits for this socket in one piece, unless it must wait itself; whether it wrote."""
        if conn.closed or conn.replaying or conn.waiting is not None or not conn.pending:
            return False
        if conn.backed_up():
            conn.waiting = asyncio.create_task(self._wait_for_reader(conn), name="ws-drain")
            return False
        frames = [frame for frame in conn.pending if not frame.seq or frame.seq > conn.last_seq]
        conn.pending.clear()
        if not frames:
            return False  # a replay sent them all already
        conn.write(b"".join(frame.data for frame in frames))
        conn.last_seq = max(conn.last_seq, max(frame.seq for frame in frames))
        if self.on_task_pushed is not None and conn.principal.role == Role.RESPONDER:
            for frame in frames:
                if frame.task_id is not None:
                    self.on_task_pushed(frame.task_id, "websocket")
        return True

    async def _wait_for_reader(self, conn: Connection) -> None:
        try:
            await conn.drained()
        except ConnectionError:
            return  # gone: its handler detaches it
        finally:
            conn.waiting = None
        self._writes.write_now(conn)

    async def _stop_waiting(self, conn: Connection) -> None:
        waiting = conn.waiting
        if waiting is not None and waiting is not asyncio.current_task():
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
        conn.waiting = None

    async def hold(self, conn: Connection) -> None:
        """Before a replay: live frames wait (and pile up) until `release`."""
        conn.replaying = True
        await self._stop_waiting(conn)

    def release(self, conn: Connection) -> None:
        """After a replay: live frames flow again, skipping what the replay already sent."""
        conn.replaying = False
        self._writes.write_now(conn)

    # Resume -----------------------------------------------------------------------------------

    def replay_query(self, conn: Connection) -> Callable[..., list[EventOut]]:
        """A read for the events after a seq that this connection may see, in order."""
        from dispatch.storage import queries

        principal, scope, department = conn.principal, conn.scope, conn.department

        def read(connection: sa.Connection, after: int, limit: int) -> list[EventOut]:
            if principal.role == Role.RESPONDER:
                return queries.events_for_responder(connection, principal.responder_id or "", after, limit)
            # Only incidents' events, as live (publish): the audit trail (units' status, logins,
            # tokens) is read with GET /api/v1/events.
            return queries.events_after(
                connection,
                after,
                limit,
                None if scope is None else list(scope),
                incidents_only=True,
                department=department,
            )

        return read
