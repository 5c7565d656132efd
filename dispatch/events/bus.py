"""The in-process event bus: typed subscriptions, publication that no handler can break."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from dispatch.events.catalog import DomainEvent

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], Awaitable[None] | None]


class EventBus:
    """Events are published here only after the transaction that recorded them committed."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)
        self._background: set[asyncio.Task[None]] = set()

    def subscribe(self, event_type: type[E], handler: Callable[[E], Any]) -> Callable[[], None]:
        """Call `handler` for every event of `event_type` (subclasses included)."""
        self._handlers[event_type].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)

        return unsubscribe

    def publish(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            for event_type in type(event).__mro__:
                for handler in self._handlers.get(event_type, ()):
                    self._call(handler, event)

    def _call(self, handler: Handler, event: DomainEvent) -> None:
        try:
            result = handler(event)
        except Exception:
            logger.exception("event handler %r failed on %s", handler, event.type)
            return
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._background.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("async event handler failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for handlers still running (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
