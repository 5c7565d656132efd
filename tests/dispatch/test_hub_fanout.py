"""The hub's fan-out: one frame per event shared by every socket, one write per socket a tick."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import orjson
import pytest

from dispatch.access.auth import Principal, Role
from dispatch.events.alerts import AlertReceived
from dispatch.events.catalog import IncidentReported
from dispatch.hub import CLOSE_SLOW_CONSUMER, FLUSH_INTERVAL_S, Connection, Hub
from dispatch.shared.wire_frames import wire_frame
from tests.factories import make_config


class FakeSocket:
    """What the hub sees of a socket: writes land in a list; it can be made to stop reading."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed: list[int] = []
        self.full = False
        self.unblocked = asyncio.Event()

    def connection(self, principal: Principal, queue_size: int = 20) -> Connection:
        async def send(text: str) -> None:
            self.writes.append(wire_frame(text))

        async def close(code: int, reason: str) -> None:
            self.closed.append(code)

        async def drained() -> None:
            await self.unblocked.wait()

        return Connection(
            principal,
            send=send,
            close=close,
            write=self.writes.append,
            backed_up=lambda: self.full,
            drained=drained,
            queue_size=queue_size,
        )

    def messages(self) -> list[dict[str, object]]:
        return [orjson.loads(text) for text in _unframe(b"".join(self.writes))]


def _unframe(data: bytes) -> list[bytes]:
    """Split a byte stream into the payloads of its unmasked text frames, checking each header."""
    out = []
    while data:
        first, second = data[0], data[1]
        assert first == 0x81 and not second & 0x80  # final text frame, not masked
        size, start = second, 2
        if second == 126:
            size, start = struct.unpack("!H", data[2:4])[0], 4
        elif second == 127:
            size, start = struct.unpack("!Q", data[2:10])[0], 10
        out.append(data[start : start + size])
        data = data[start + size :]
    return out


CITY = Principal(Role.DISPATCHER, "city", jurisdiction_id="city")


def _reported(seq: int, incident_id: int) -> IncidentReported:
    return IncidentReported(
        occurred_at=1_700_000_000.0,
        actor="system",
        incident_id=incident_id,
        seq=seq,
        category="fire",
        severity=4,
        title="t",
        lat=None,
        lon=None,
        jurisdiction_id="city",
        outside_area=False,
        owner_jurisdiction_id="city",
        owner_tier="city",
        departments=[],
        policy_name="standard",
    )


def _alert(seq: int, incident_id: int) -> AlertReceived:
    return AlertReceived(
        occurred_at=1_700_000_000.0,
        actor="gateway:g",
        incident_id=incident_id,
        seq=seq,
        alert_id=seq,
        source="s",
        source_event_id=str(seq),
        kind="sensor",
        category="fire",
        severity=4,
        new_incident=False,
        alert_count=seq,
    )


def _hub() -> Hub:
    config = make_config()
    assert any(node.id == "city" for node in config.jurisdictions)
    return Hub(config)


async def _tick() -> None:
    await asyncio.sleep(FLUSH_INTERVAL_S * 2)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_wire_frame_headers_carry_the_length(size: int) -> None:
    text = "x" * size
    assert _unframe(wire_frame(text)) == [text.encode()]


async def test_events_of_a_tick_reach_each_socket_in_one_write_in_order() -> None:
    hub = _hub()
    sockets = [FakeSocket() for _ in range(3)]
    for sock in sockets:
        hub.attach(sock.connection(CITY))
    hub.publish(_reported(1, 7))
    for seq in range(2, 6):
        hub.publish(_alert(seq, 7))
    await _tick()

    for sock in sockets:
        assert len(sock.writes) == 1
        assert [m["seq"] for m in sock.messages()] == [1, 2, 3, 4, 5]
    # Serialized once: the three sockets got the very same bytes.
    assert sockets[0].writes[0] == sockets[1].writes[0] == sockets[2].writes[0]


async def test_a_socket_that_stopped_reading_is_skipped_then_closed_and_others_get_everything() -> None:
    hub = _hub()
    slow, fast = FakeSocket(), FakeSocket()
    hub.attach(slow.connection(CITY, queue_size=5))
    hub.attach(fast.connection(CITY, queue_size=5))
    hub.publish(_reported(1, 7))
    await _tick()
    slow.full = True
    for seq in range(2, 12):
        hub.publish(_alert(seq, 7))
        await _tick()
    await asyncio.sleep(0)

    assert [m["seq"] for m in fast.messages()] == list(range(1, 12))
    assert [m["seq"] for m in slow.messages()] == [1]
    assert slow.closed == [CLOSE_SLOW_CONSUMER]
    assert hub.dropped_slow == 1
    await hub.close_all()  # as the socket's handler would: detached, its wait for a reader ended


async def test_a_socket_that_reads_again_gets_what_waited_in_order() -> None:
    hub = _hub()
    sock = FakeSocket()
    hub.attach(sock.connection(CITY))
    sock.full = True
    hub.publish(_reported(1, 7))
    hub.publish(_alert(2, 7))
    await _tick()
    assert sock.writes == []
    sock.full = False
    sock.unblocked.set()
    await _tick()

    assert [m["seq"] for m in sock.messages()] == [1, 2]
    assert sock.closed == []


async def test_a_replay_holds_live_frames_and_they_skip_what_it_sent() -> None:
    hub = _hub()
    sock = FakeSocket()
    conn = sock.connection(CITY)
    hub.attach(conn)
    await hub.hold(conn)
    for seq in (1, 2, 3):
        hub.publish(_alert(seq, 7) if seq > 1 else _reported(1, 7))
    await _tick()
    assert sock.writes == []
    conn.last_seq = 2  # the replay sent 1 and 2 itself
    hub.release(conn)

    assert [m["seq"] for m in sock.messages()] == [3]


async def test_positions_are_one_frame_per_scope() -> None:
    hub = _hub()
    sockets = [FakeSocket() for _ in range(2)]
    for sock in sockets:
        hub.attach(sock.connection(CITY))
    unit = next(iter(hub.config.responder_by_id))
    hub.publish_positions({unit: (28.1, 112.2, 1_700_000_000.0)})
    await _tick()

    messages: list[Callable[[], list[dict[str, object]]]] = [sock.messages for sock in sockets]
    assert messages[0]() == messages[1]()
    assert sockets[0].writes[0] is sockets[1].writes[0]
