"""A TCP proxy the test can cut and restore: a database or a peer server that goes away, for real;
or that lets requests through and holds back the answers (a peer that took a message, then the
sender died before it heard so).

It runs its own event loop on its own thread, because the server under test also talks to
the database from its event loop's thread at times (start-up, issuing test tokens); a proxy
on that loop would wait for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CHUNK = 65536


class TcpProxy:
    """127.0.0.1:<port> → upstream. `cut()` drops every connection and refuses new ones."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.accepted = 0
        self._cut = False
        self._answers: asyncio.Event | None = None
        """Set while answers flow back; cleared by `hold_answers()`."""
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Like a database host gone: open connections reset, new ones closed at once."""
        self._call(self._drop_all())

    def restore(self) -> None:
        self._call(self._allow())

    def hold_answers(self) -> None:
        """What clients send still goes through; what comes back waits until `release_answers()`."""
        self._call(self._gate(open_=False))

    def release_answers(self) -> None:
        self._call(self._gate(open_=True))

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.Server:
        self._answers = asyncio.Event()
        self._answers.set()
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _gate(self, *, open_: bool) -> None:
        assert self._answers is not None
        if open_:
            self._answers.set()
        else:
            self._answers.clear()

    async def _drop_all(self) -> None:
        self._cut = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _allow(self) -> None:
        self._cut = False

    async def _shutdown(self) -> None:
        await self._drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            client_writer.transport.abort()
            return
        self.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, upstream_writer}
        self._writers |= pair
        try:
            await asyncio.gather(
                _pipe(client_reader, upstream_writer),
                _pipe(upstream_reader, client_writer, self._answers),
            )
        finally:
            self._writers -= pair
            for writer in (client_writer, upstream_writer):
                writer.transport.abort()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gate: asyncio.Event | None = None
) -> None:
    """One direction; when it ends, the whole connection ends. A gate holds what was read."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(_CHUNK):
            if gate is not None:
                await gate.wait()
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
