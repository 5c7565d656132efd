"""`GET /ws`: tablets and consoles authenticate, receive their events, resume, send triggers.

Client → server: `auth` (`token`; browsers only, others send the Authorization header),
`resume` (`after`), `receipt` (`task_id`, optional `id`), `trigger` (`id`, `task_id`,
`trigger`, optional `note`), `position` (`lat`, `lon`), `ping`. Server → client: `hello`,
`event` (`seq`, `event`), `alarm` (an escalation or all-tier notice into the dispatcher's own
node), `resumed` (`last_seq`), `result` (`id`, `ok`, `task` or `error`), `error`, `pong`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from functools import partial
from typing import Annotated, Any, Literal

import orjson
from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractStreamWriter
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from dispatch.access import authz
from dispatch.access.accounts import hash_session_id
from dispatch.access.auth import Principal, hash_token
from dispatch.access.authz import Action
from dispatch.events.frames import stored_event_frame
from dispatch.hub import Connection
from dispatch.shared.errors import DispatchError, Forbidden, error_body
from dispatch.storage import wire
from web.errors import error_response
from web.keys import RUNTIME
from web.security import COOKIE, SESSIONS, TOKENS, origin_allowed, token_refused

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
REPLAY_PAGE = 500
REMEMBERED_REQUESTS = 2000


class Answers:
    """The answers to each principal's trigger requests, by request id, across its sockets.

    A tablet that lost its socket sends its queued actions again on the next one: the same
    request id gets the first answer, never a second application (until the server restarts;
    a repeated trigger is harmless by the task machine anyway).
    """

    def __init__(self) -> None:
        self._by_actor: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()

    def of(self, actor: str) -> OrderedDict[str, str]:
        answers = self._by_actor.get(actor)
        if answers is None:
            answers = self._by_actor[actor] = OrderedDict()
            while len(self._by_actor) > REMEMBERED_REQUESTS:
                self._by_actor.popitem(last=False)
        return answers


ANSWERS = web.AppKey("ws_answers", Answers)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no "7" for a task id, no true for 1


class AuthMessage(_Message):
    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=512)


class ResumeMessage(_Message):
    type: Literal["resume"]
    after: int = Field(ge=0, description="The last event sequence number the client has.")


class ReceiptMessage(_Message):
    type: Literal["receipt"]
    task_id: int
    id: str | None = Field(None, max_length=128)


class TriggerMessage(_Message):
    type: Literal["trigger"]
    id: str = Field(min_length=1, max_length=128, description="The client's request id.")
    task_id: int
    trigger: str
    note: str | None = Field(None, max_length=2000)


class PositionMessage(_Message):
    type: Literal["position"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class PingMessage(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    AuthMessage | ResumeMessage | ReceiptMessage | TriggerMessage | PositionMessage | PingMessage,
    Field(discriminator="type"),
]
_client_message: TypeAdapter[Any] = TypeAdapter(ClientMessage)


async def websocket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    settings = runtime.config.websocket
    if {"token", "access_token"} & set(request.query):
        return error_response(
            400,
            "token_in_url",
            "never put a token in the URL; send Authorization or an auth message",
            "token",
        )
    if not origin_allowed(request):
        return error_response(
            403,
            "forbidden",
            f"Origin {request.headers.get('Origin')!r} may not open a socket: it is neither the address "
            "this connection reached nor listed in websocket.allowed_origins",
            "Origin",
        )
    principal: Principal | None = None
    credential: str | None = None
    header = request.headers.get("Authorization")
    cookie = request.cookies.get(COOKIE)
    if header is None and cookie:
        # A browser page of ours: its session cookie (SameSite=Strict, and the Origin was checked).
        login = await request.app[SESSIONS].session(cookie)
        if login is not None:
            principal, credential = login.principal, hash_session_id(cookie)
    if header is not None:
        scheme, _, token = header.partition(" ")
        principal, refusal = (
            await request.app[TOKENS].check(token.strip()) if scheme.lower() == "bearer" else (None, "")
        )
        credential = hash_token(token.strip())
        if principal is None:
            return token_refused(refusal or "unknown token")
    # No permessage-deflate: it costs ~100 KiB per socket and compresses every frame per client.
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat, max_msg_size=settings.max_message_bytes, compress=False
    )
    if not ws.can_prepare(request).ok:
        if principal is None:
            response = error_response(
                401, "unauthorized", "send Authorization: Bearer <token>", "Authorization"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
            return response
        return error_response(426, "upgrade_required", "this is a WebSocket endpoint: upgrade", "Upgrade")
    writer = await ws.prepare(request)
    if principal is None:
        principal, credential = await _authenticate(request, ws, settings.auth_timeout)
        if principal is None:
            return ws
    if not authz.may(principal, Action.SUBSCRIBE):
        await ws.close(code=CLOSE_FORBIDDEN, message=f"the {principal.role} role may not subscribe".encode())
        return ws
    session = _Session(request, ws, writer, principal, credential)
    await session.run()
    return ws


async def _authenticate(
    request: web.Request, ws: web.WebSocketResponse, within: float
) -> tuple[Principal | None, str | None]:
    """The auth message's principal and its token's hash (revoking the token closes the socket)."""
    try:
        async with asyncio.timeout(within):
            message = await ws.receive()
    except TimeoutError:
        await ws.close(code=CLOSE_AUTH_TIMEOUT, message=f"authenticate within {within:g}s".encode())
        return None, None
    if message.type != WSMsgType.TEXT:
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"first message must be auth")
        return None, None
    try:
        auth = AuthMessage.model_validate(orjson.loads(message.data))
    except (orjson.JSONDecodeError, ValidationError):
        await ws.close(
            code=CLOSE_UNAUTHORIZED, message=b'first message must be {"type": "auth", "token": ...}'
        )
        return None, None
    principal, refusal = await request.app[TOKENS].check(auth.token)
    if principal is None:
        await ws.close(code=CLOSE_UNAUTHORIZED, message=refusal.encode())
    return principal, hash_token(auth.token)


class _Session:
    """One authenticated socket: its hub connection and the messages it sends."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        writer: AbstractStreamWriter,
        principal: Principal,
        credential: str | None,
    ) -> None:
        self.runtime = request.app[RUNTIME]
        self.ws = ws
        self.principal = principal
        self.transport = request.transport
        self.protocol = request.protocol
        self.conn = Connection(
            principal,
            send=ws.send_str,
            close=self._close,
            write=self._write,
            backed_up=lambda: self.protocol.writing_paused,
            drained=writer.drain,
            queue_size=self.runtime.config.websocket.queue_size,
            credential=credential,
        )
        self.answered = request.app[ANSWERS].of(principal.actor)

    def _write(self, frames: bytes) -> None:
        # The hub's frames are whole and unmasked already: straight to the socket's buffer,
        # the way aiohttp writes its own frames, and never after the close frame.
        if not self.ws.closed and self.transport is not None and not self.transport.is_closing():
            self.transport.write(frames)

    async def _close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode())

    async def run(self) -> None:
        hub = self.runtime.hub
        hub.attach(self.conn)
        try:
            await self._send(
                {
                    "type": "hello",
                    "role": self.principal.role,
                    "name": self.principal.name,
                    "jurisdiction": self.principal.jurisdiction_id,
                    "responder": self.principal.responder_id,
                    "department": self.principal.department_id,
                    "last_seq": self.runtime.service.committed_seq(),
                }
            )
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    await self._handle(message.data)
                elif message.type == WSMsgType.BINARY:
                    await self._error("not_text", "send JSON text frames")
        finally:
            await hub.detach(self.conn)

    async def _send(self, body: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(orjson.dumps(body).decode())

    async def _error(self, code: str, message: str, field: str | None = None) -> None:
        await self._send({"type": "error", **error_body(code, message, field)})

    async def _handle(self, data: str) -> None:
        if "\\u0000" in data or "\x00" in data:  # PostgreSQL text cannot hold NUL
            await self._error("invalid", "NUL characters are not allowed in messages")
            return
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError:
            await self._error("malformed_json", "the message is not JSON")
            return
        try:
            message = _client_message.validate_python(raw)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(part) for part in first["loc"][1:]) or "type"
            if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
                await self._error(
                    "unknown_type",
                    f"unknown message type {raw.get('type')!r}"
                    if isinstance(raw, dict)
                    else "send an object with a type",
                    "type",
                )
            else:
                await self._error("invalid", f"{field}: {first['msg']}", field)
            return
        if isinstance(message, AuthMessage):
            await self._error("already_authenticated", "this socket is authenticated already")
        elif isinstance(message, ResumeMessage):
            await self._resume(message.after)
        elif isinstance(message, ReceiptMessage):
            await self._receipt(message)
        elif isinstance(message, TriggerMessage):
            await self._trigger(message)
        elif isinstance(message, PositionMessage):
            await self._position(message)
        else:
            await self._send({"type": "pong"})

    async def _resume(self, after: int) -> None:
        """Everything of this scope after `after`, in order, then live again."""
        hub, conn = self.runtime.hub, self.conn
        await hub.hold(conn)
        read = hub.replay_query(conn)
        conn.last_seq = after
        while True:
            page = await self.runtime.read(partial(read, after=conn.last_seq, limit=REPLAY_PAGE))
            for event in page:
                await conn.send(stored_event_frame(event))
                conn.last_seq = event["seq"]
                task_id = event["task_id"] if event["type"] == "task_assigned" else None
                if task_id is not None and hub.on_task_pushed is not None:
                    hub.on_task_pushed(task_id, "websocket")
            if len(page) < REPLAY_PAGE:
                break
        await self._send({"type": "resumed", "last_seq": conn.last_seq})
        hub.release(conn)

    async def _receipt(self, message: ReceiptMessage) -> None:
        outcome = await self._task_trigger(message.task_id, "deliver", None)
        if message.id is not None or not outcome["ok"]:
            await self._send({"type": "result", "id": message.id, **outcome})

    async def _trigger(self, message: TriggerMessage) -> None:
        remembered = self.answered.get(message.id)
        if remembered is not None:
            await self.ws.send_str(remembered)  # a repeated request id: the same answer, once applied
            return
        outcome = await self._task_trigger(message.task_id, message.trigger, message.note)
        answer = orjson.dumps({"type": "result", "id": message.id, **outcome}).decode()
        if outcome["ok"]:
            self.answered[message.id] = answer
            while len(self.answered) > REMEMBERED_REQUESTS:
                self.answered.popitem(last=False)
        await self.ws.send_str(answer)

    async def _task_trigger(self, task_id: int, trigger: str, note: str | None) -> dict[str, Any]:
        try:  # the service decides, as for REST and MQTT
            outcome = await self.runtime.service.trigger_task(
                task_id, trigger, self.principal, note=note, channel="websocket"
            )
        except DispatchError as err:
            return _failure(err)
        return {"ok": True, "changed": outcome.changed, "task": wire.task_json(outcome.row)}

    async def _position(self, message: PositionMessage) -> None:
        try:
            authz.require(self.principal, Action.REPORT_POSITION)
        except Forbidden as err:
            await self._error(err.code, err.message)
            return
        assert self.principal.responder_id is not None
        self.runtime.positions.report(
            self.principal.responder_id, message.lat, message.lon, self.runtime.clock.now()
        )


def _failure(err: DispatchError) -> dict[str, Any]:
    return {"ok": False, "error": err.body()}


def add_routes(app: web.Application) -> None:
    app[ANSWERS] = Answers()
    app.router.add_get("/ws", websocket)
