"""Intake requests wait here together: one writer pass takes all that arrived meanwhile.

Sixteen gateways posting one alert each cost one dedupe query, one candidate query and one
insert, not sixteen of each. Should the shared pass fail, each request is retried on its own,
so one request's fault never fails another's alerts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dispatch.intake.pipeline import Intake, IntakeItem, Received
from dispatch.storage.writer import Tx, Writer


@dataclass
class _Request:
    items: list[IntakeItem]
    future: asyncio.Future[list[Received]]


class IntakeQueue:
    def __init__(self, writer: Writer, intake: Intake) -> None:
        self._writer = writer
        self._intake = intake
        self._lock = threading.Lock()
        self._waiting: list[_Request] = []
        self._scheduled = False
        self._passes: set[asyncio.Task[None]] = set()

    async def submit(self, items: list[IntakeItem]) -> list[Received]:
        request = _Request(items, asyncio.get_running_loop().create_future())
        with self._lock:
            self._waiting.append(request)
            schedule = not self._scheduled
            self._scheduled = True
        if schedule:
            task = asyncio.create_task(self._pass(), name="intake-pass")
            self._passes.add(task)
            task.add_done_callback(self._passes.discard)
        return await request.future

    async def _pass(self) -> None:
        taken: list[_Request] = []
        try:
            outcomes = await self._writer.submit(lambda tx: self._run(tx, taken))
        except BaseException as err:  # the commit failed: nobody's alerts were stored
            if not taken:  # refused before the pass ran (database unreachable): still waiting here
                with self._lock:
                    taken.extend(self._waiting)
                    self._waiting = []
                    self._scheduled = False
            for request in taken:
                if not request.future.done():
                    request.future.set_exception(err)
            if isinstance(err, asyncio.CancelledError):
                raise
            return
        for request, (ok, value) in zip(taken, outcomes, strict=True):
            if request.future.done():
                continue
            if ok:
                request.future.set_result(value)  # type: ignore[arg-type]
            else:
                assert isinstance(value, BaseException)
                request.future.set_exception(value)

    def _run(self, tx: Tx, taken: list[_Request]) -> list[tuple[bool, object]]:
        """On the writer thread: take every waiting request and run them as one pass."""
        with self._lock:
            taken.extend(self._waiting)
            self._waiting = []
            self._scheduled = False
        if len(taken) == 1:  # nobody to shield: the writer's own rollback covers it
            return [(True, self._intake.receive_many(tx, taken[0].items))]
        items = [item for request in taken for item in request.items]
        ok, value = tx.isolated(lambda tx: self._intake.receive_many(tx, items))
        if ok:
            results: list[Received] = value
            outcomes: list[tuple[bool, object]] = []
            start = 0
            for request in taken:
                outcomes.append((True, results[start : start + len(request.items)]))
                start += len(request.items)
            return outcomes
        return [tx.isolated(self._alone(request)) for request in taken]

    def _alone(self, request: _Request) -> Callable[[Tx], list[Received]]:
        return lambda tx: self._intake.receive_many(tx, request.items)
