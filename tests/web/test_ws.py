"""WebSocket delivery with a real `websockets` client: tablets, consoles, resume, slow readers."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import Harness, ServerFactory
from tests.factories import EAST_N, WEST_N, alert, config_data, make_config
from web.ws import CLOSE_AUTH_TIMEOUT, CLOSE_FORBIDDEN, CLOSE_UNAUTHORIZED

TABLET = "grid-west-n-1"
WAIT = 10.0  # a safety net against hangs, never a timing assertion


@pytest.fixture(params=["one process", "front and core"])
async def server(request: pytest.FixtureRequest, make_server: ServerFactory) -> Harness:
    """Every socket test runs against one process and against a front of `serve --workers N`."""
    split: ServerFactory = request.getfixturevalue("make_split_server")
    return await (make_server if request.param == "one process" else split)()


def _url(server: Harness) -> str:
    return str(server.client.make_url("/ws")).replace("http://", "ws://")


@asynccontextmanager
async def _socket(server: Harness, token: str | None, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with websockets.connect(_url(server), additional_headers=headers, **kwargs) as ws:
        yield ws


_PENDING: dict[int, list[dict[str, Any]]] = {}


def _kind(frame: dict[str, Any]) -> str:
    return str(frame["event"]["type"] if frame["type"] == "event" else frame["type"])


async def _next(ws: ClientConnection, *types: str) -> dict[str, Any]:
    """The next frame whose type (or event type) is one of `types`; others wait their turn."""
    pending = _PENDING.setdefault(id(ws), [])
    for index, frame in enumerate(pending):
        if not types or _kind(frame) in types or frame["type"] in types:
            return pending.pop(index)
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if not types or _kind(frame) in types or frame["type"] in types:
            return frame
        pending.append(frame)


async def _request(ws: ClientConnection, body: dict[str, Any]) -> dict[str, Any]:
    await ws.send(orjson.dumps(body).decode())
    return await _next(ws, "result", "error")


def _tablet_token(server: Harness, responder: str = TABLET) -> str:
    return server.token("responder", name=responder, responder=responder)


async def test_ws_tablet_receives_confirms_accepts_and_resumes_missed_tasks(server: Harness) -> None:
    first = await server.post_alert(alert("e1", location={"lat": 28.16, "lon": 112.1}))
    token = _tablet_token(server)

    async with _socket(server, token) as tablet:
        hello = await _next(tablet, "hello")
        assert hello["responder"] == TABLET
        await tablet.send(orjson.dumps({"type": "resume", "after": 0}).decode())
        assigned = await _next(tablet, "task_assigned")
        task_id = assigned["event"]["task_id"]
        assert assigned["event"]["incident_id"] == first["incident_id"]
        resumed = await _next(tablet, "resumed")

        receipt = await _request(tablet, {"type": "receipt", "task_id": task_id, "id": "r0"})
        accept = {"type": "trigger", "id": "r1", "task_id": task_id, "trigger": "accept"}
        accepted = await _request(tablet, accept)
        again = await _request(tablet, accept)
        await _next(tablet, "task_accepted")
        last_seq = (await _next(tablet, "incident_responding"))["seq"]  # accepting set it responding

    assert receipt["ok"] and receipt["task"]["state"] == "delivered"
    assert accepted["ok"] and accepted["task"]["state"] == "accepted"
    assert again == accepted  # a repeated request id is answered, not applied twice
    assert resumed["last_seq"] >= assigned["seq"]
    incident = await server.incident(first["incident_id"])
    assert incident["tasks"][0]["delivered_via"] == "websocket"
    assert [e["type"] for e in incident["timeline"]].count("task_accepted") == 1
    delivered = next(e for e in incident["timeline"] if e["type"] == "task_delivered")
    assert delivered["payload"]["channel"] == "websocket"

    # Offline: a dispatcher hands the tablet two more incidents.
    missed = []
    for n, where in enumerate([{"lat": 28.17, "lon": 112.11}, {"lat": 28.18, "lon": 112.12}]):
        other = await server.post_alert(alert(f"v{n}", source=f"cam-{n}", category="vending", location=where))
        await server.incident_trigger(
            other["incident_id"], "assign", {"responder_id": TABLET, "reason": "near"}
        )
        missed.append(other["incident_id"])

    async with _socket(server, token) as tablet:
        await _next(tablet, "hello")
        await tablet.send(orjson.dumps({"type": "resume", "after": last_seq}).decode())
        replayed = []
        while (frame := await _next(tablet))["type"] != "resumed":
            if frame["type"] == "event":
                replayed.append(frame)

    assigned_again = [f for f in replayed if f["event"]["type"] == "task_assigned"]
    assert [f["event"]["incident_id"] for f in assigned_again] == missed
    assert [f["seq"] for f in replayed] == sorted(f["seq"] for f in replayed)
    assert all(f["seq"] > last_seq for f in replayed)
    assert {f["event"]["type"] for f in replayed} == {"task_assigned"}


async def test_ws_dispatchers_see_only_their_town_and_city_sees_both(server: Harness) -> None:
    tokens = {
        town: server.token("dispatcher", name=f"desk-{town}", jurisdiction=town)
        for town in ("west", "east", "city")
    }
    async with (
        _socket(server, tokens["west"]) as west,
        _socket(server, tokens["east"]) as east,
        _socket(server, tokens["city"]) as city,
    ):
        for ws in (west, east, city):
            await _next(ws, "hello")
        in_west = await server.post_alert(alert("w1", location=WEST_N))
        in_east = await server.post_alert(alert("e1", source="gauge-9", location=EAST_N))
        # Markers posted last: a socket that has seen its marker has seen all it ever will of the rest.
        west_marker = await server.post_alert(
            alert("m1", source="g-10", location={"lat": 28.19, "lon": 112.01})
        )
        east_marker = await server.post_alert(
            alert("m2", source="g-11", location={"lat": 28.19, "lon": 112.39})
        )

        async def reported_until(ws: ClientConnection, *markers: int) -> set[int]:
            seen: set[int] = set()
            while not set(markers) <= seen:
                seen.add((await _next(ws, "incident_reported"))["event"]["incident_id"])
            return seen

        seen_west = await reported_until(west, west_marker["incident_id"])
        seen_east = await reported_until(east, east_marker["incident_id"])
        seen_city = await reported_until(city, west_marker["incident_id"], east_marker["incident_id"])

    assert seen_west == {in_west["incident_id"], west_marker["incident_id"]}
    assert seen_east == {in_east["incident_id"], east_marker["incident_id"]}
    assert seen_city == seen_west | seen_east


async def test_ws_escalation_into_a_dispatchers_node_is_a_loud_alarm(server: Harness) -> None:
    west_desk = server.token("dispatcher", name="desk-west", jurisdiction="west")
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]

    async with _socket(server, west_desk) as ws:
        await _next(ws, "hello")
        await server.incident_trigger(incident_id, "escalate", {"reason": "grid worker unreachable"})
        alarm = await _next(ws, "alarm")

    assert alarm["kind"] == "escalated_to_you"
    assert alarm["incident_id"] == incident_id
    assert alarm["event"]["payload"]["reason"] == "grid worker unreachable"


async def test_ws_browser_authenticates_with_a_first_message(server: Harness) -> None:
    token = server.token("dispatcher", name="browser-desk")
    async with _socket(server, None) as ws:
        await ws.send(orjson.dumps({"type": "auth", "token": token}).decode())
        hello = await _next(ws, "hello")
        pong = await _request(ws, {"type": "auth", "token": token})

    assert hello["name"] == "browser-desk"
    assert pong["code"] == "already_authenticated"


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "auth", "token": "dsp_nonsense"}, CLOSE_UNAUTHORIZED),
        ({"type": "resume", "after": 0}, CLOSE_UNAUTHORIZED),
        ("not json", CLOSE_UNAUTHORIZED),
    ],
    ids=["unknown-token", "not-auth-first", "not-json"],
)
async def test_ws_unauthenticated_socket_is_closed_with_a_clear_code(
    server: Harness, first: Any, code: int
) -> None:
    async with _socket(server, None) as ws:
        await ws.send(first if isinstance(first, str) else orjson.dumps(first).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_ws_silent_socket_is_closed_after_auth_timeout(make_server: ServerFactory) -> None:
    server = await make_server(make_config(websocket={"auth_timeout": 0.05}))
    async with _socket(server, None) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_AUTH_TIMEOUT


async def test_ws_gateway_may_not_subscribe(server: Harness) -> None:
    async with _socket(server, server.token("gateway")) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_FORBIDDEN


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/ws?token=abc", {}, 400),
        ("/ws", {"Origin": "https://evil.example"}, 403),
        ("/ws", {"Authorization": "Bearer dsp_wrong"}, 401),
    ],
    ids=["token-in-url", "foreign-origin", "bad-header-token"],
)
async def test_ws_refused_before_upgrade(
    server: Harness, path: str, headers: dict[str, str], status: int
) -> None:
    response = await server.client.get(path, headers={**_upgrade_headers(), **headers})

    assert response.status == status
    assert (await response.json())["error"]["code"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ws_foreign_origin_naming_itself_in_host_is_refused(server: Harness) -> None:
    # What a DNS-rebinding page sends: evil.example resolves to this server, so the browser's
    # Host and Origin both say evil.example.
    port = server.client.port
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            f"ws://evil.example:{port}/ws",
            host="127.0.0.1",
            port=port,
            origin=f"http://evil.example:{port}",  # type: ignore[arg-type]
            additional_headers={"Authorization": f"Bearer {server.token('dispatcher')}"},
            proxy=None,
        ):
            pass

    response = refused.value.response
    assert response.status_code == 403
    assert orjson.loads(response.body)["error"]["field"] == "Origin"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_ws_own_origin_may_connect(server: Harness, name: str) -> None:
    port = server.client.port
    token = server.token("dispatcher", name="console")
    async with _socket(server, token, origin=f"http://{name}:{port}") as ws:  # type: ignore[arg-type]
        assert (await _next(ws, "hello"))["role"] == "dispatcher"


async def test_ws_allowed_origin_from_config_may_connect(make_server: ServerFactory) -> None:
    server = await make_server(make_config(websocket={"allowed_origins": ["https://console.city"]}))
    token = server.token("dispatcher", name="console")
    async with _socket(server, token, origin="https://console.city") as ws:  # type: ignore[arg-type]
        assert (await _next(ws, "hello"))["role"] == "dispatcher"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "malformed_json"),
        ({"type": "teleport"}, "unknown_type"),
        ({"type": "trigger", "id": "x", "task_id": "seven", "trigger": "accept"}, "invalid"),
        ({"type": "position", "lat": 200, "lon": 0}, "invalid"),
        ({"type": "trigger", "id": "x", "task_id": 1, "trigger": "close"}, "illegal_transition"),
        # Strict types: text or a boolean is no number, even when it reads as one.
        ({"type": "trigger", "id": "x", "task_id": "1", "trigger": "accept"}, "invalid"),
        ({"type": "trigger", "id": "x", "task_id": True, "trigger": "accept"}, "invalid"),
        ({"type": "position", "lat": "28.1", "lon": 112.3}, "invalid"),
        ({"type": "resume", "after": "0"}, "invalid"),
    ],
    ids=[
        "not-json",
        "unknown-type",
        "wrong-type",
        "latitude-200",
        "not-a-tablet-trigger",
        "task-id-text",
        "task-id-true",
        "latitude-text",
        "resume-after-text",
    ],
)
async def test_ws_bad_input_gets_an_error_and_changes_nothing(
    server: Harness, message: Any, code: str
) -> None:
    incident_id = (await server.post_alert(alert("e1")))["incident_id"]
    before = await server.incident(incident_id)

    async with _socket(server, _tablet_token(server)) as ws:
        await _next(ws, "hello")
        await ws.send(message if isinstance(message, str) else orjson.dumps(message).decode())
        answer = await _next(ws, "error", "result")
        still_open = await _ping(ws)

    error = answer.get("error", answer)
    assert error["code"] == code
    assert still_open["type"] == "pong"
    assert await server.incident(incident_id) == before


async def _ping(ws: ClientConnection) -> dict[str, Any]:
    await ws.send(orjson.dumps({"type": "ping"}).decode())
    return await _next(ws, "pong")


async def test_ws_trigger_for_someone_elses_task_is_not_found(server: Harness) -> None:
    incident_id = (await server.post_alert(alert("e1", location={"lat": 28.16, "lon": 112.1})))["incident_id"]
    task_id = (await server.incident(incident_id))["tasks"][0]["id"]
    other = "grid-east-n-1"

    async with _socket(server, _tablet_token(server, other)) as ws:
        await _next(ws, "hello")
        answer = await _request(ws, {"type": "trigger", "id": "a", "task_id": task_id, "trigger": "accept"})

    assert answer["ok"] is False
    assert answer["error"]["code"] == "not_found"
    assert (await server.incident(incident_id))["tasks"][0]["state"] in ("pending", "sent")


async def test_ws_oversized_frame_closes_with_1009(server: Harness) -> None:
    async with _socket(server, _tablet_token(server), max_size=None) as ws:
        await _next(ws, "hello")
        await ws.send("x" * (1 << 20))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), WAIT)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_ws_position_moves_the_responder_and_presence_shows_online(server: Harness) -> None:
    async with _socket(server, _tablet_token(server)) as ws:
        await _next(ws, "hello")
        await ws.send(orjson.dumps({"type": "position", "lat": 28.111, "lon": 112.222}).decode())
        await _ping(ws)  # the position message was handled before the pong
        if server.front is not None:
            await server.front.positions.flush()  # a front hands positions to the core
        assert await server.runtime.positions.flush() == 1
        response = await server.client.get("/api/v1/responders", headers=server.auth("admin"))
        online = {r["id"]: r for r in (await response.json())["responders"]}

    assert online[TABLET]["online"] is True
    assert online[TABLET]["position"] == {"lat": 28.111, "lon": 112.222}
    assert online["grid-east-n-1"]["online"] is False


async def test_ws_slow_consumer_is_dropped_while_fast_one_keeps_up(make_server: ServerFactory) -> None:
    config = make_config(websocket={"queue_size": 20})
    server = await make_server(config)
    token = server.token("admin")
    slow = await _raw_subscriber(server, token)
    title = "水位" * 100  # big frames fill the socket buffers sooner
    try:
        async with _socket(server, token, max_queue=None) as fast:
            await _next(fast, "hello")
            posted = 0
            while server.runtime.hub.dropped_slow == 0 and posted < 5000:
                answers = await asyncio.gather(
                    *(
                        server.post_alert(
                            {"alerts": [alert(f"a{posted + n}-{i}", title=title) for i in (0, 1)]}
                        )
                        for n in range(16)
                    )
                )
                final = max(answer["results"][-1]["alert_id"] for answer in answers)
                posted += 16
            while True:  # the fast console still sees the very last alert arrive
                frame = await _next(fast, "alert_received")
                if frame["event"]["payload"]["alert_id"] == final:
                    break
    finally:
        slow.close()

    assert server.runtime.hub.dropped_slow == 1
    assert len(server.runtime.hub.online()) == 0


def _upgrade_headers() -> dict[str, str]:
    return {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }


async def _raw_subscriber(server: Harness, token: str) -> socket.socket:
    """A console that connects, upgrades, and then never reads a byte."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (server.client.host, server.client.port))
    lines = ["GET /ws HTTP/1.1", f"Host: {server.client.host}:{server.client.port}"]
    lines += [f"{k}: {v}" for k, v in {**_upgrade_headers(), "Authorization": f"Bearer {token}"}.items()]
    await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
    assert (await loop.sock_recv(sock, 12)) == b"HTTP/1.1 101"
    return sock


def test_ws_config_defaults_are_sane() -> None:
    settings = make_config(**config_data()).websocket
    assert settings.queue_size >= 100
    assert settings.auth_timeout <= 10
