"""The credential watch: what other processes changed about tokens and sessions, noticed here.

`dispatch token revoke`, `user disable` and `user passwd` run in their own process and change
only the database. Every `interval` the server closes the sockets whose token was revoked or
expired, or whose session ended (close code 4401), moves the events those commands left into
the log (dispatch/storage/pending_events.py), and stores when each token was last accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import sqlalchemy as sa

from dispatch.access import tokens
from dispatch.shared.clock import Clock
from dispatch.storage import pending_events
from dispatch.storage.tables import session_table, token_table, user_table
from dispatch.storage.writer import Tx

logger = logging.getLogger(__name__)

Read = Callable[[Callable[[sa.Connection], Any]], Awaitable[Any]]

SESSION_ENDED = "session ended"


class Sockets(Protocol):
    """The open sockets by the credential that opened them (`dispatch.hub.Hub`, a layer above)."""

    def credentials(self) -> set[str]: ...

    async def close_credential(self, credential: str, reason: str) -> int: ...


def refusals(connection: sa.Connection, credentials: list[str], now: float) -> dict[str, str]:
    """Of these credentials (token hashes, session id hashes), the ones no longer good, and why."""
    token_rows = connection.execute(
        sa.select(token_table.c.hash, token_table.c.expires_at, token_table.c.revoked_at).where(
            token_table.c.hash.in_(credentials)
        )
    ).all()
    refused: dict[str, str] = {}
    for row in token_rows:
        if row.revoked_at is not None:
            refused[row.hash] = tokens.REVOKED
        elif row.expires_at is not None and row.expires_at <= now:
            refused[row.hash] = tokens.EXPIRED
    live_sessions = connection.execute(
        sa.select(session_table.c.id_hash)
        .join(user_table, user_table.c.name == session_table.c.user_name)
        .where(
            session_table.c.id_hash.in_(credentials),
            session_table.c.expires_at > now,
            user_table.c.disabled.is_(False),
        )
    ).scalars()
    known = {row.hash for row in token_rows} | set(live_sessions)
    for credential in credentials:
        if credential not in known:
            refused[credential] = SESSION_ENDED  # logged out, disabled, expired, or a deleted token
    return refused


def record_uses(used: dict[str, float]) -> Callable[[Tx], None]:
    """The writer command that stores tokens' last uses and chains events waiting outside the log."""

    def store(tx: Tx) -> None:
        tokens.record_use(tx.connection, used)
        pending_events.move_into_log(tx)

    return store


class CredentialWatch:
    def __init__(
        self,
        record: Callable[[dict[str, float]], Awaitable[None]],
        read: Read,
        hub: Sockets,
        clock: Clock,
        used: dict[str, float],
        interval: float,
    ) -> None:
        self.record = record
        """Stores last uses and chains waiting events (the writer's command, in the core process)."""
        self.read = read
        self.hub = hub
        self.clock = clock
        self.used = used
        """Token hash → when last accepted, filled by the token cache, emptied here."""
        self.interval = interval
        self._wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            await self.clock.sleep_until(self.clock.now() + self.interval, self._wake)
            try:
                await self.check()
            except Exception:  # a database hiccup: try again next round
                logger.exception("checking tokens and sessions failed; trying again in %.0f s", self.interval)

    async def check(self) -> None:
        """One round: chain waiting events, store last uses, close what no longer holds."""
        now = self.clock.now()
        credentials = sorted(self.hub.credentials())

        def read(connection: sa.Connection) -> tuple[int, dict[str, str]]:
            refused = refusals(connection, credentials, now) if credentials else {}
            return pending_events.waiting(connection), refused

        waiting, refused = await self.read(read)
        if waiting or self.used:
            used = dict(self.used)
            self.used.clear()
            await self.record(used)
        for credential, reason in refused.items():
            closed = await self.hub.close_credential(credential, reason)
            if closed:
                logger.info("closed %d socket(s): %s", closed, reason)
