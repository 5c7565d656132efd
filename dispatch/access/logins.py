"""The login counter: logins and logouts decided by the login desk, run as writer commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa

from dispatch.access import accounts
from dispatch.access.accounts import LoginDesk, LoginOutcome
from dispatch.access.auth import Principal
from dispatch.config.model import Config
from dispatch.shared.clock import Clock
from dispatch.storage.writer import Writer

T = TypeVar("T")
Read = Callable[[Callable[[sa.Connection], T]], Awaitable[T]]


class Logins:
    """What the web's session routes await: the password is checked off the loop, the rest in the writer."""

    def __init__(
        self, config: Config, writer: Writer, read: Read[sa.RowMapping | None], clock: Clock
    ) -> None:
        self._desk = LoginDesk(config)
        self._writer = writer
        self._read = read
        self._clock = clock

    async def log_in(self, name: str, password: str, totp: str | None, remote: str | None) -> LoginOutcome:
        """A session, or the refusal (`throttled` with its `retry_after`); every attempt is logged."""
        desk = self._desk
        user = await self._read(lambda connection: accounts.read_user(connection, name))
        now = self._clock.now()
        if desk.throttled_until(user, now) is not None:
            until = await self._writer.submit(lambda tx: desk.record_throttled(tx, name, remote))
            return LoginOutcome(None, None, "throttled", (until or now) - now)
        stored = user["password_hash"] if user is not None else None
        ok = await asyncio.to_thread(accounts.verify_password, stored, password)
        new_hash = None
        if ok and stored is not None and accounts.needs_rehash(stored):
            new_hash = await asyncio.to_thread(accounts.rehash, password)
        outcome: LoginOutcome = await self._writer.submit(
            lambda tx: desk.record_attempt(tx, name, ok, remote, new_hash, totp)
        )
        return outcome

    async def log_out(self, session_id: str, principal: Principal, remote: str | None) -> bool:
        """End the session (logged); False when it had ended already."""
        ended: bool = await self._writer.submit(
            lambda tx: self._desk.record_logout(tx, session_id, principal, remote)
        )
        return ended
