"""Whether the database answers: an outage is logged once, refused with 503, and left behind.

Foreign errors that mean "the database is not there" (connection refused or lost, a pool
timeout, SQLite's file locked or unreadable) are translated here, once, into
`DatabaseUnavailable`; everything else stays the error it is.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from dispatch.shared.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_AFTER_S = 5
"""What a refused client is told to wait (`Retry-After`) before it sends again."""

_SQLITE_UNREACHABLE = ("locked", "unable to open", "disk i/o", "disk is full", "readonly", "busy")


def is_unreachable(err: BaseException) -> bool:
    """True for errors of the database's availability, not of the statement or the data."""
    if isinstance(err, sa.exc.DBAPIError):
        if err.connection_invalidated:
            return True
        if isinstance(err.orig, sqlite3.Error):
            message = str(err.orig).lower()
            return any(part in message for part in _SQLITE_UNREACHABLE)
        return isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError)
    return isinstance(err, sa.exc.TimeoutError | sa.exc.PendingRollbackError)


class DatabaseHealth:
    """The state of the database as the last statements found it; shared by writer and readers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.unreachable_since: float | None = None
        """Epoch seconds of the first failure of the current outage; None while it answers."""
        self.reason: str | None = None
        self.outages = 0
        self.failures = 0
        """Reads and commits refused because the database did not answer (since start)."""

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    def failed(self, err: BaseException) -> DatabaseUnavailable:
        """Note an outage (logged once, without a traceback) and return the error to raise."""
        reason = _one_line(err)
        with self._lock:
            self.failures += 1
            first = self.unreachable_since is None
            if first:
                self.unreachable_since = time.time()
                self.reason = reason
                self.outages += 1
        if first:
            logger.error(
                "database unreachable (%s); answering 503 with Retry-After: %ss until it answers again",
                reason,
                RETRY_AFTER_S,
            )
        return DatabaseUnavailable(
            f"the database is unreachable; nothing was written, retry in {RETRY_AFTER_S}s",
            retry_after=RETRY_AFTER_S,
        )

    def answered(self) -> None:
        """A statement went through: an outage, if there was one, is over."""
        if self.unreachable_since is None:
            return
        with self._lock:
            since, self.unreachable_since, self.reason = self.unreachable_since, None, None
            failures = self.failures
        if since is not None:
            logger.warning(
                "database reachable again after %.0fs (%d reads or commits refused since start)",
                time.time() - since,
                failures,
            )

    def call(self, work: Callable[[], T]) -> T:
        """Run database work, raising `DatabaseUnavailable` when the database is not there."""
        try:
            result = work()
        except Exception as err:
            if is_unreachable(err):
                raise self.failed(err) from err
            raise
        self.answered()
        return result


def _one_line(err: BaseException) -> str:
    cause = err.orig if isinstance(err, sa.exc.DBAPIError) and err.orig is not None else err
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text[:200]}" if text else type(cause).__name__
