"""The single writer: every state change runs here, in order, and commits in groups.

Commands queue up while the previous transaction commits; the next transaction takes them
all (up to `max_batch`), runs each in its own SAVEPOINT so that one failing command cannot
undo its neighbours, appends their events to the hash-chained log, and commits once. Only
then are callers answered and events published. One thread, one connection: transitions of
an incident are applied one at a time, in the order they were submitted, and
the event log's chain has a single author.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from dispatch.events.bus import EventBus
from dispatch.events.catalog import DomainEvent
from dispatch.shared.clock import Clock
from dispatch.storage.health import DatabaseHealth, is_unreachable
from dispatch.storage.ledger import Head, Ledger
from dispatch.storage.transaction import Command, Ids, Tx

__all__ = ["IDLE_PING_S", "Command", "Ids", "Observer", "Tx", "Writer", "WriterStopped"]

logger = logging.getLogger(__name__)

R = TypeVar("R")

Observer = Callable[[Tx, list[DomainEvent]], None]
"""Told, inside the transaction, the events one command just recorded; may write (and record)
more in the same transaction. One that raises fails that command: isolate what may fail."""

IDLE_PING_S = 1.0
"""A connection idle this long is pinged before a batch: its server may have gone silently."""


@dataclass
class _Pending(Generic[R]):
    command: Command[R]
    future: asyncio.Future[R]


class WriterStopped(RuntimeError):
    pass


class _Failed(Exception):
    """A lone command's own error, carried out of its transaction so that it rolls back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class Writer:
    def __init__(
        self,
        engine: sa.Engine,
        bus: EventBus,
        clock: Clock,
        *,
        audit_key: bytes,
        max_batch: int = 512,
        on_batch: Callable[[int, float], None] | None = None,
        on_deadlines: Callable[[list[float]], None] | None = None,
        health: DatabaseHealth | None = None,
    ) -> None:
        self._engine = engine
        self._bus = bus
        self._clock = clock
        self._max_batch = max_batch
        self._on_batch = on_batch
        """Told each committed batch's size and seconds, on the writer thread (metrics)."""
        self._on_deadlines = on_deadlines
        self.health = health or DatabaseHealth()
        self._stale = False
        """The connection was lost: open a new one (and re-read the chain head) before the next batch."""
        self._last_used = 0.0
        self._queue: queue.SimpleQueue[_Pending[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: sa.Connection | None = None
        self.ledger = Ledger(audit_key)
        self.ids: Ids | None = None
        self.batches = 0
        self.commands = 0
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> None:
        """Call `observer` after each command, in its transaction, with the events it recorded.

        For the commands submitted from then on (register before `start`); without observers,
        commands run exactly as submitted.
        """
        self._observers.append(observer)

    def _observed(self, command: Command[R]) -> Command[R]:
        observers = self._observers

        def observed(tx: Tx) -> R:
            mark = len(tx.events)
            result = command(tx)
            if len(tx.events) > mark:
                recorded = tx.events[mark:]
                for observer in observers:
                    observer(tx, recorded)
            return result

        return observed

    @property
    def clock(self) -> Clock:
        """The clock every transaction's `now` comes from."""
        return self._clock

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._connection = self._engine.connect()
        with self._connection.begin():
            self.ledger.load(self._connection)
            self.ids = Ids(self._connection)
        self._thread = threading.Thread(target=self._run, name="dispatch-writer", daemon=True)
        self._last_used = time.monotonic()
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        if self._connection is not None:
            self._connection.close()

    async def submit(self, command: Command[R]) -> R:
        """Run `command` in the next group commit; returns once its transaction committed."""
        if self._thread is None or self._loop is None:
            raise WriterStopped("the writer is not running")
        if self._observers:
            command = self._observed(command)
        future: asyncio.Future[R] = self._loop.create_future()
        self._queue.put(_Pending(command, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch: list[_Pending[Any]] = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        refusal = self._prepare()
        if refusal is not None:
            self._answer(batch, [(False, refusal)] * len(batch), [], [])
            return
        assert self._connection is not None and self.ids is not None
        connection = self._connection
        started = time.perf_counter()
        head_before = Head(self.ledger.head.seq, self.ledger.head.hash)
        ids_before = self.ids.snapshot()
        tx = Tx(connection, self._clock.now(), self.ids, self.ledger)
        outcomes: list[tuple[bool, Any]] = []
        try:
            with connection.begin():
                if len(batch) == 1:
                    # Alone in its transaction: a failure rolls the whole of it back anyway.
                    outcomes.append(self._alone(tx, batch[0].command))
                else:
                    for pending in batch:
                        outcomes.append(tx.isolated(pending.command))
                self.ledger.write(connection, tx.rows, tx.events, head_before)
        except _Failed as failed:
            # The only command failed: its transaction is rolled back as its savepoint would be.
            self.ledger.head = head_before
            self.ids.restore(ids_before)
            error: BaseException = failed.error
            if is_unreachable(error):
                self._stale = True
                error = self.health.failed(error)
            self._answer(batch, [(False, error)], [], [])
            return
        except Exception as err:
            if is_unreachable(err):
                # The database went away: nobody's change happened (or, if only the answer to
                # COMMIT was lost, it did, and the reconnect re-reads the chain head and ids).
                self.ledger.head = head_before
                self.ids.restore(ids_before)
                self._stale = True
                unavailable = self.health.failed(err)
                self._answer(batch, [(False, unavailable)] * len(batch), [], [])
                return
            # The commit itself failed (disk full): nobody's change happened.
            logger.exception("group commit of %d commands failed", len(batch))
            self.ledger.head = head_before
            self.ids.restore(ids_before)
            self._reload()
            self._answer(batch, [(False, err)] * len(batch), [], [])
            return
        self._last_used = time.monotonic()
        self.health.answered()
        self.batches += 1
        self.commands += len(batch)
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started)
        for callback in tx.committed:
            try:
                callback()
            except Exception:
                logger.exception("after-commit callback failed")
        self._answer(batch, outcomes, tx.events, tx.deadlines)

    def _prepare(self) -> BaseException | None:
        """Make sure the connection answers before a batch; the refusal to give when it cannot."""
        try:
            # A file has no connection to lose; a server's connection may have gone.
            server = not self._stale and self._engine.dialect.name != "sqlite"
            if server and (self._server_spoke() or time.monotonic() - self._last_used > IDLE_PING_S):
                self._ping()
            if self._stale:
                self._reconnect()
        except Exception as err:
            if is_unreachable(err):
                return self.health.failed(err)
            logger.exception("could not reconnect to the database")
            return err
        return None

    def _server_spoke(self) -> bool:
        """Whether the idle connection's socket has something to read: between our own
        statements that is the server closing it (a restart, a network cut). Costs no round trip."""
        assert self._connection is not None
        try:
            socket = self._connection.connection.dbapi_connection.fileno()  # type: ignore[union-attr]
            readable, _, _ = select.select([socket], [], [], 0)
        except Exception:
            return True  # no socket to look at: let the ping find out
        return bool(readable)

    def _ping(self) -> None:
        """Like the pool's pre-ping, for the one connection the writer keeps."""
        assert self._connection is not None
        try:
            with self._connection.begin():
                self._connection.exec_driver_sql("SELECT 1")
        except Exception as err:
            if not is_unreachable(err):
                raise
            self._stale = True  # lost while idle: the database may be back, so reconnect at once

    def _reconnect(self) -> None:
        """A new connection, and the chain head and ids as stored: a commit whose answer was
        lost may have landed after all."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
        connection = self._engine.connect()
        try:
            with connection.begin():
                self.ledger.load(connection)
                self.ids = Ids(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._stale = False
        logger.info("writer reconnected to the database")

    @staticmethod
    def _alone(tx: Tx, command: Command[Any]) -> tuple[bool, Any]:
        try:
            return True, command(tx)
        except Exception as err:
            if not getattr(err, "expected", False) and not is_unreachable(err):
                logger.exception("command failed")
            raise _Failed(err) from err

    def _reload(self) -> None:
        """After a failed commit, read the chain head and ids back: a commit whose answer was
        lost may have landed after all, and the next batch must continue from what is stored."""
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                self._connection.rollback()
            with self._connection.begin():
                self.ledger.load(self._connection)
                self.ids = Ids(self._connection)
        except Exception:
            logger.warning("could not re-read the chain head; keeping the last known one", exc_info=True)

    def _answer(
        self,
        batch: list[_Pending[Any]],
        outcomes: list[tuple[bool, Any]],
        events: list[DomainEvent],
        deadlines: list[float],
    ) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._deliver, batch, outcomes, events, deadlines)

    def _deliver(
        self,
        batch: list[_Pending[Any]],
        outcomes: list[tuple[bool, Any]],
        events: list[DomainEvent],
        deadlines: list[float],
    ) -> None:
        for pending, (ok, value) in zip(batch, outcomes, strict=True):
            if pending.future.done():
                continue
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)
        if deadlines and self._on_deadlines is not None:
            self._on_deadlines(deadlines)
        if events:
            self._bus.publish(events)
