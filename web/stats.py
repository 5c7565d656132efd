"""`GET /api/v1/stats`: the big screen's figures, scoped to the caller and cached for a moment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import Field

from dispatch.access import authz
from dispatch.access.authz import Action
from dispatch.events.catalog import DomainEvent
from dispatch.shared.clock import Clock
from dispatch.shared.errors import InvalidInput
from dispatch.views import stats
from dispatch.views.stats_shapes import Stats
from web.errors import json_response
from web.keys import RUNTIME
from web.openapi import operation
from web.query import Query, Rfc3339, parse_query
from web.security import PRINCIPAL

FRESH_S = 2.0
"""How long an answer serves while nothing new is committed: the figures that move with time
alone (overdue, the trend's hours) are at most this old."""
MAX_CACHED = 256

Answer = Stats
Key = tuple[tuple[str, ...] | None, float, str | None]


class StatsQuery(Query):
    since: Rfc3339 | None = Field(
        None,
        description=(
            "Start of the period (RFC 3339 with offset), at most 31 days back and not in the "
            "future; default: today's midnight in config.yaml's timezone."
        ),
    )


@dataclass
class _Entry:
    generation: int
    computed_at: float
    answer: asyncio.Future[Answer]

    def failed(self) -> bool:
        return self.answer.done() and (self.answer.cancelled() or self.answer.exception() is not None)


class StatsCache:
    """The answers per (scope, since): a wall of screens asking at once reads the database once.

    An answer is reused while no event has been committed since its read began, for at most
    FRESH_S of the injected clock, so every caller sees at least what was committed before it
    asked. At most one read per key runs at a time: who asks while an older read runs shares
    the one that starts when it ends, so an event storm never runs reads side by side.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._generation = 0
        self._entries: dict[Key, _Entry] = {}
        self._next: dict[Key, asyncio.Future[Answer]] = {}

    def notice(self, _event: DomainEvent) -> None:
        """Bus handler: events are published after their commit, so older answers miss them."""
        self._generation += 1

    async def get(self, key: Key, compute: Callable[[float], Awaitable[Answer]]) -> Answer:
        entry = self._entries.get(key)
        if entry is not None and not entry.failed():
            age = self._clock.now() - entry.computed_at
            if entry.generation == self._generation and 0.0 <= age < FRESH_S:
                return await asyncio.shield(entry.answer)  # shielded: the others still wait on it
            if not entry.answer.done():
                following = self._next.get(key)
                if following is None:
                    following = asyncio.ensure_future(self._after(entry.answer, key, compute))
                    following.add_done_callback(_retrieved)
                    self._next[key] = following
                return await asyncio.shield(following)
        return await asyncio.shield(self._start(key, compute).answer)

    def _start(self, key: Key, compute: Callable[[float], Awaitable[Answer]]) -> _Entry:
        if len(self._entries) >= MAX_CACHED:
            self._entries = {key: entry for key, entry in self._entries.items() if not entry.answer.done()}
        now = self._clock.now()
        # The generation is taken before the read starts: it reads at least that much.
        answer = asyncio.ensure_future(compute(now))
        answer.add_done_callback(_retrieved)
        entry = self._entries[key] = _Entry(self._generation, now, answer)
        return entry

    async def _after(
        self, running: asyncio.Future[Answer], key: Key, compute: Callable[[float], Awaitable[Answer]]
    ) -> Answer:
        await asyncio.wait([running])
        del self._next[key]
        return await self._start(key, compute).answer


def _retrieved(answer: asyncio.Future[Answer]) -> None:
    """A failed read is raised to whoever waits; none may be left (all went away): not a warning."""
    if not answer.cancelled():
        answer.exception()


STATS_CACHE = web.AppKey("stats_cache", StatsCache)


def _since(value: datetime | None, now: float, zone: ZoneInfo) -> float:
    if value is None:
        return stats.local_midnight(now, zone)
    since = value.timestamp()
    if since > now:
        raise InvalidInput("since is in the future", field="since")
    if since < now - stats.MAX_PERIOD_S:
        raise InvalidInput(f"since is at most {stats.MAX_PERIOD_S / 86_400:g} days back", field="since")
    return since


@operation(
    "Statistics",
    tag="screens",
    actions=[Action.READ_STATS],
    description=(
        "The figures of the big screen for the caller's jurisdiction subtree (incidents located "
        "in or owned by it), computed from the stored events: open incidents now by state, "
        "grade, category, owner tier and town, with the overdue ones and the newest 2000 for the "
        "map; from `since` to now the incidents opened, resolved, closed, cancelled, escalated, "
        "delegated and unanswered, and the median and 90th percentile of the seconds from a "
        "task's assignment to its acceptance and to its arrival, per tier (the task's) and per "
        "town (the incident's), counting the tasks accepted (arrived) within the period; and "
        "the incidents opened and resolved in each of the 24 local hours up to now. A `since` "
        "more than 31 days back is refused (422), not clamped. Answers are reused for up to "
        f"{FRESH_S:g} s while nothing new has been committed."
    ),
    query=StatsQuery,
    responses={200: Stats},
    errors=[422],
)
async def get_stats(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    runtime = request.app[RUNTIME]
    config = runtime.config
    zone = ZoneInfo(config.timezone)
    since = _since(parse_query(request, StatsQuery).since, runtime.clock.now(), zone)
    scope, department = authz.scope(principal, config), authz.department(principal)
    key: Key = (None if scope is None else tuple(scope), since, department)

    async def compute(now: float) -> Answer:
        answer: Answer = await runtime.read(
            lambda connection: stats.overview(connection, config, scope, since, now, zone, department)
        )
        return answer

    return json_response(await request.app[STATS_CACHE].get(key, compute))


def add_routes(app: web.Application) -> None:
    runtime = app[RUNTIME]
    cache = StatsCache(runtime.clock)
    app[STATS_CACHE] = cache
    runtime.bus.subscribe(DomainEvent, cache.notice)
    app.router.add_get("/api/v1/stats", get_stats)
