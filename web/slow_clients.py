"""Slow and abandoned requests: limited in time, counted, and logged in one line at most a minute.

A request head that does not arrive whole within `web.header_timeout` is aiohttp's to refuse:
its keep-alive timer, armed when a connection opens and after each answer, closes a
connection that has not delivered a complete head by then. The body is ours: it is read
here, before the handler runs, within `web.body_timeout`; a body that trickles in slower gets
408 and the connection closed. A client that hangs up while sending its body is no error of
ours: neither is logged one by one (anyone could flood the log so), only summed up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Annotated, Any

from aiohttp import ClientConnectionResetError, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from dispatch.config.model import Config, Web
from web.errors import Handler, error_response

logger = logging.getLogger(__name__)

BODY_TIMED_OUT = "body_timed_out"
ABANDONED = "abandoned"


@with_config(ConfigDict(extra="forbid"))
class WebStatus(TypedDict):
    body_timed_out: Annotated[
        int, Field(description="Requests answered 408: the body came slower than `web.body_timeout`.")
    ]
    abandoned: Annotated[int, Field(description="Requests whose client hung up while sending the body.")]


def server_options(config: Config) -> dict[str, Any]:
    """Options for aiohttp's server (`web.run_app`, a test server): the header time limit."""
    return {"keepalive_timeout": config.web.header_timeout}


class SlowClients:
    """Counts of requests ended for slowness or hung up on; the log gets a summary at most per interval."""

    def __init__(self, settings: Web) -> None:
        self.settings = settings
        self.counts: Counter[str] = Counter()
        self._unlogged: Counter[str] = Counter()
        self._logged_at: float | None = None

    def stats(self) -> WebStatus:
        return {"body_timed_out": self.counts[BODY_TIMED_OUT], "abandoned": self.counts[ABANDONED]}

    def note(self, kind: str) -> None:
        self.counts[kind] += 1
        self._unlogged[kind] += 1
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < self.settings.log_interval:
            return
        self._logged_at = now
        summary = ", ".join(
            f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(self._unlogged.items())
        )
        self._unlogged.clear()
        logger.warning(
            "slow or abandoned requests: %s (bodies must arrive within %gs; next summary in %gs at the "
            "earliest)",
            summary,
            self.settings.body_timeout,
            self.settings.log_interval,
        )

    async def read_body(self, request: web.Request) -> web.StreamResponse | None:
        """Read the whole body in time; None when it came, else the answer to give instead."""
        try:
            async with asyncio.timeout(self.settings.body_timeout):
                await request.read()
        except TimeoutError:
            self.note(BODY_TIMED_OUT)
            response = error_response(
                408,
                "request_timeout",
                f"the request body did not arrive within {self.settings.body_timeout:g}s",
            )
            # Sent now and the connection closed: aiohttp would otherwise linger, reading the
            # rest of the body from the very client that is too slow.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
            return response
        except asyncio.CancelledError:
            if _gone(request):  # aiohttp's handler_cancellation: the client hung up
                self.note(ABANDONED)
            raise
        except (ClientConnectionResetError, ConnectionError, HttpProcessingError):
            if not _gone(request):
                raise  # a malformed body from a client still there: the usual 400
            self.note(ABANDONED)
            response = web.Response(status=400)  # nobody is left to read it
            response.force_close()
            return response
        return None


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


SLOW_CLIENTS = web.AppKey("slow_clients", SlowClients)


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.can_read_body:
        refused = await request.app[SLOW_CLIENTS].read_body(request)
        if refused is not None:
            return refused
    return await handler(request)
