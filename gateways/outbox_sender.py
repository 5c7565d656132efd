"""The outbox's sender: one loop per destination posting queued messages in id order, with backoff.

Runs in the process that owns the writer (the core of `serve --workers N`). One message is in
flight per destination; the next is read only once the previous one is delivered or refused, so
a destination sees each incident's messages in the order they were queued. A message that does
not get through (no connection, a timeout, 5xx, 401, 403, 429) stays queued and is tried again
after `retry.first`, doubling up to `retry.max`, on the injectable clock; any other 4xx is the
destination's final word, so the message is marked refused and the next one goes. Whatever was
queued when the process stopped is sent after it starts again: the receiver deduplicates by
identifier (the `Idempotency-Key` header too), so a message posted twice takes effect once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
import sqlalchemy as sa

from dispatch.core.outbound import Message, mark_delivered, mark_refused, mark_retry, next_queued
from dispatch.events.catalog import DomainEvent
from dispatch.events.outbound import OutboundQueued
from dispatch.shared.clock import Clock
from dispatch.storage.transaction import Command

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE = frozenset({401, 403, 408, 425, 429})
"""4xx answers that may change by themselves (a token being fixed, a limit lifting): retried."""
RECEIPT_LIMIT = 2_000
"""Characters of an answer kept as the message's receipt."""


@dataclass(frozen=True)
class Link:
    """A destination as the sender sees it: where, with what token, how patiently."""

    destination: str
    name: str
    url: str
    token: str | None
    retry_first: float
    retry_max: float
    timeout: float

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed attempts (1, 2, …)."""
        doublings = min(max(attempts - 1, 0), 30)
        return min(self.retry_max, self.retry_first * float(2**doublings))


@dataclass
class LinkFigures:
    """Counted as it happens, for metrics and the link status."""

    delivered: int = 0
    failures: int = 0
    refused: int = 0
    down: bool = False


class Undelivered(Exception):
    """This attempt failed; the message stays queued (connection, timeout, 5xx, 401/403/429)."""


class Refused(Exception):
    """The destination refused the message for good (another 4xx)."""


Submit = Callable[[Command[Any]], Awaitable[Any]]
Read = Callable[[Callable[[sa.Connection], T]], Awaitable[T]]


class OutboxSender:
    """Posts each destination's queued messages, one at a time, until stopped."""

    def __init__(
        self,
        links: list[Link],
        submit: Submit,
        read: Read[Any],
        clock: Clock,
        count: Callable[[str, str], None] | None = None,
    ) -> None:
        self._count = count or (lambda _destination, _outcome: None)
        """Told each attempt's destination and outcome (delivered, failures, refused): metrics."""
        self.links = {link.destination: link for link in links}
        self._submit = submit
        self._read = read
        self._clock = clock
        self._wake = {destination: asyncio.Event() for destination in self.links}
        self.figures = {destination: LinkFigures() for destination in self.links}

    def notice(self, event: DomainEvent) -> None:
        """Bus subscriber: a message was queued, so its destination's loop looks again."""
        if isinstance(event, OutboundQueued) and event.destination in self._wake:
            self._wake[event.destination].set()

    async def run(self) -> None:
        if not self.links:
            return
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._run_link(session, link) for link in self.links.values()))

    async def _run_link(self, session: aiohttp.ClientSession, link: Link) -> None:
        wake = self._wake[link.destination]
        never = asyncio.Event()
        while True:
            wake.clear()
            try:
                message = await self._read(next_queued(link.destination))
            except Exception:
                logger.warning("outbox %s: could not read the queue", link.destination, exc_info=True)
                await self._clock.sleep_until(self._clock.now() + link.retry_max, never)
                continue
            if message is None:
                await self._clock.sleep_until(math.inf, wake)
                continue
            if message.next_try_at is not None and message.next_try_at > self._clock.now():
                await self._clock.sleep_until(message.next_try_at, never)
            await self._attempt(session, link, message)

    async def _attempt(self, session: aiohttp.ClientSession, link: Link, message: Message) -> None:
        figures = self.figures[link.destination]
        try:
            receipt = await self._post(session, link, message)
        except Undelivered as failed:
            figures.failures += 1
            self._count(link.destination, "failures")
            if not figures.down:
                logger.warning(
                    "outbox %s: %s unreachable, holding its queue: %s", link.destination, link.url, failed
                )
            figures.down = True
            next_try_at = self._clock.now() + link.backoff(message.attempts + 1)
            await self._store(mark_retry(message.id, str(failed), next_try_at), link)
            return
        except Refused as refused:
            figures.refused += 1
            self._count(link.destination, "refused")
            logger.warning("outbox %s refused %s: %s", link.destination, message.identifier, refused)
            await self._store(mark_refused(message.id, str(refused)), link)
            return
        if figures.down:
            logger.info("outbox %s: %s answers again", link.destination, link.url)
        figures.down = False
        figures.delivered += 1
        self._count(link.destination, "delivered")
        await self._store(mark_delivered(message.id, receipt), link)

    async def _store(self, command: Command[Any], link: Link) -> None:
        """Write the outcome; if the database refuses, wait, and the message is read again."""
        try:
            await self._submit(command)
        except Exception:
            logger.warning("outbox %s: could not store an outcome", link.destination, exc_info=True)
            await self._clock.sleep_until(self._clock.now() + link.retry_first, asyncio.Event())

    async def _post(self, session: aiohttp.ClientSession, link: Link, message: Message) -> dict[str, Any]:
        headers = {"Content-Type": message.content_type, "Idempotency-Key": message.identifier}
        if link.token is not None:
            headers["Authorization"] = f"Bearer {link.token}"
        try:
            async with session.post(
                link.url + message.path,
                data=message.body.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=link.timeout),
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise Undelivered(f"{type(err).__name__}: {err}"[:500]) from err
        if 200 <= status < 300:
            return _receipt(status, text)
        error = f"HTTP {status}: {text[:300]}"
        if status >= 500 or status in RETRYABLE or status < 400:
            raise Undelivered(error)
        raise Refused(error)


def _receipt(status: int, text: str) -> dict[str, Any]:
    """What the destination answered, trimmed: its JSON object if it sent one."""
    try:
        answer = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and len(text) <= RECEIPT_LIMIT:
        return {"http_status": status, **answer}
    return {"http_status": status, "text": text[:RECEIPT_LIMIT]}
