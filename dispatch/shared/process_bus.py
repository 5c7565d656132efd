"""The bus between the server's processes: calls into the core process, and its broadcasts.

`dispatch serve --workers N` runs one core process (the single writer and everything that
changes state) and N front processes (HTTP, WebSockets, reads). A front calls the core by name
(`service.submit_alerts`, …) and awaits the answer; the core broadcasts what every front must
know (committed events, moved positions, its status) to all of them, in the order it sent it.

This module is the bus's interface and its in-machine backend: a Unix socket, each frame a
4-byte length and a pickle (both ends are this program, started by the same `dispatch serve`).
The next backend, for several machines, puts the same three messages on Redis Streams (calls on
a stream read by the core's consumer group, answers and broadcasts on streams the fronts read);
nothing above this module changes.

Frames: a call `("c", id, name, args, kwargs)`, its answer `("r", id, ok, value)`, and a
broadcast `("b", topic, payload)`. Errors cross as their class, `args` and attributes, so a
front raises the very error the core's code raised (the HTTP error mapping is unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
OnBroadcast = Callable[[str, Any], None]

_LENGTH = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


class BusClosed(ConnectionError):
    """The other end of the bus went away (the core process stopped or died)."""

    sent = False
    """The call had gone out before: the core may have made the change before it went away."""


class AnswerLost(BusClosed):
    sent = True


class CoreCalls(Protocol):
    """What a front needs of the bus: call the core by name and await its answer."""

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


def encode(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    try:
        head = await reader.readexactly(_LENGTH.size)
        (length,) = _LENGTH.unpack(head)
        if length > MAX_FRAME:
            raise BusClosed(f"frame of {length} bytes: the other end is not this bus")
        message: tuple[Any, ...] = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError) as err:
        raise BusClosed("the other end closed the bus") from err
    return message


def pack_error(error: BaseException) -> tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]:
    """An error as its class, args and attributes: rebuilt without calling its __init__, whose
    keyword-only arguments plain pickling would lose."""
    attributes = {key: value for key, value in vars(error).items() if _picklable(value)}
    return type(error), error.args, attributes


def unpack_error(packed: tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]) -> BaseException:
    kind, args, attributes = packed
    error = kind.__new__(kind)
    error.args = args
    vars(error).update(attributes)
    return error


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


class BusServer:
    """The core's end: answers calls by name and broadcasts to every connected front."""

    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        self._server: asyncio.AbstractServer | None = None
        self._peers: set[asyncio.StreamWriter] = set()
        self._calls: set[asyncio.Task[None]] = set()
        self.calls = 0

    @property
    def peers(self) -> int:
        return len(self._peers)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=MAX_FRAME)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for peer in list(self._peers):
            peer.close()
        for call in list(self._calls):
            call.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def broadcast(self, topic: str, payload: Any) -> None:
        """Send to every front, in the order broadcast (one write per front, never awaited)."""
        if not self._peers:
            return
        frame = encode(("b", topic, payload))
        for peer in list(self._peers):
            if peer.is_closing():
                self._peers.discard(peer)
                continue
            peer.write(frame)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._peers.add(writer)
        try:
            while True:
                message = await read_frame(reader)
                if message[0] != "c":
                    raise BusClosed(f"unexpected frame {message[0]!r}")
                _, call_id, name, args, kwargs = message
                task = asyncio.create_task(self._answer(writer, call_id, name, args, kwargs))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
        except BusClosed:
            pass
        finally:
            self._peers.discard(writer)
            writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, call_id: int, name: str, args: Any, kwargs: Any
    ) -> None:
        self.calls += 1
        handler = self.handlers.get(name)
        try:
            if handler is None:
                raise LookupError(f"the core has no call named {name!r}")
            reply: tuple[Any, ...] = ("r", call_id, True, await handler(*args, **kwargs))
        except Exception as err:
            reply = ("r", call_id, False, pack_error(err))
        if writer.is_closing():
            return
        try:
            frame = encode(reply)
        except Exception as err:  # an answer that cannot cross: say so rather than hang the caller
            logger.exception("the answer to %s cannot be sent", name)
            frame = encode(("r", call_id, False, pack_error(TypeError(f"{name}: {err}"))))
        writer.write(frame)


class BusClient:
    """A front's end: calls into the core; broadcasts are handed to `on_broadcast` in order."""

    def __init__(self, path: str, on_broadcast: OnBroadcast) -> None:
        self.path = path
        self._on_broadcast = on_broadcast
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(self.path, limit=MAX_FRAME)
        self._reading = asyncio.create_task(self._read(reader), name="bus-reader")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)
        self._fail_waiting()

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._writer is None or self.closed.is_set():
            raise BusClosed("the core process is not connected")
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        try:
            self._writer.write(encode(("c", call_id, name, args, kwargs)))
            return await future
        finally:
            self._waiting.pop(call_id, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                message = await read_frame(reader)
                if message[0] == "r":
                    _, call_id, ok, value = message
                    future = self._waiting.get(call_id)
                    if future is None or future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(unpack_error(value))
                elif message[0] == "b":
                    try:
                        self._on_broadcast(message[1], message[2])
                    except Exception:
                        logger.exception("handling the core's %r broadcast failed", message[1])
        except BusClosed:
            logger.warning("the bus to the core process closed")
        finally:
            self.closed.set()
            self._fail_waiting()

    def _fail_waiting(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(AnswerLost("the core process went away before answering"))
        self._waiting.clear()
