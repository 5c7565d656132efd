"""Positions reported by tablets: the latest per responder, written in one batch a second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import sqlalchemy as sa

from dispatch.storage.tables import responder_table
from dispatch.storage.writer import Tx, Writer

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0

_move = (
    responder_table.update()
    .where(responder_table.c.id == sa.bindparam("_id"))
    .values(lat=sa.bindparam("_lat"), lon=sa.bindparam("_lon"), position_at=sa.bindparam("_at"))
)


class Positions:
    """A tablet may report every few seconds; only the newest fix per unit is worth a write."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._latest: dict[str, tuple[float, float, float]] = {}
        self.on_moved: Callable[[dict[str, tuple[float, float, float]]], None] | None = None
        """Told of each flush's positions once written (consoles' maps move their units)."""

    def report(self, responder_id: str, lat: float, lon: float, at: float) -> None:
        self._latest[responder_id] = (lat, lon, at)

    async def flush(self) -> int:
        """Write the positions reported since the last flush; returns how many units moved."""
        if not self._latest:
            return 0
        latest, self._latest = self._latest, {}
        rows = [
            {"_id": responder_id, "_lat": lat, "_lon": lon, "_at": at}
            for responder_id, (lat, lon, at) in latest.items()
        ]

        def write(tx: Tx) -> None:
            tx.connection.execute(_move, rows)

        await self._writer.submit(write)
        if self.on_moved is not None:
            self.on_moved(latest)
        return len(rows)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("writing positions failed; the next reports will be tried")
