"""Each socket is judged by its own writes: a tablet's task goes at once while consoles are busy.

The hub's clock is a ManualClock: a console written a moment ago stays busy until the test
moves the clock a tick on, however slow the machine running the test is.
"""

from __future__ import annotations

import asyncio

from dispatch.access.auth import Principal, Role
from dispatch.events.catalog import TaskAssigned
from dispatch.hub import FLUSH_INTERVAL_S, Connection, Hub
from dispatch.shared.clock import ManualClock
from tests.dispatch.test_hub_fanout import CITY, FakeSocket, _alert, _reported
from tests.factories import make_config

UNIT = "grid-west-n-1"
TABLET = Principal(Role.RESPONDER, UNIT, responder_id=UNIT)


class WatchedSocket(FakeSocket):
    """A FakeSocket that lets a test wait for its next write instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = asyncio.Event()

    def connection(self, principal: Principal, queue_size: int = 20) -> Connection:
        conn = super().connection(principal, queue_size)

        def write(data: bytes) -> None:
            self.writes.append(data)
            self.wrote.set()

        conn.write = write
        return conn

    async def next_write(self) -> None:
        await asyncio.wait_for(self.wrote.wait(), timeout=10)
        self.wrote.clear()


def _assigned(seq: int, incident_id: int, task_id: int) -> TaskAssigned:
    return TaskAssigned(
        occurred_at=1_700_000_000.0,
        actor="system",
        incident_id=incident_id,
        task_id=task_id,
        seq=seq,
        responder_id=UNIT,
        tier="street",
        step_index=0,
        distance_m=120.0,
        accept_deadline_at=1_700_000_060.0,
        category="fire",
        severity=4,
        lat=28.16,
        lon=112.1,
        title="t",
    )


async def _turns(count: int = 3) -> None:
    """Let the loop run a few turns: whatever is written 'at once' is written by then."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_tablets_task_is_written_at_once_while_a_busy_console_waits_for_its_tick() -> None:
    clock = ManualClock()
    hub = Hub(make_config(), now=clock.now)
    console, tablet = WatchedSocket(), WatchedSocket()
    hub.attach(console.connection(CITY))
    hub.attach(tablet.connection(TABLET))
    pushed: list[int] = []
    hub.on_task_pushed = lambda task_id, _channel: pushed.append(task_id)

    hub.publish(_reported(1, 7))
    await _turns()
    assert [m["seq"] for m in console.messages()] == [1]  # quiet until now: at once
    console.wrote.clear()

    hub.publish(_alert(2, 7))
    hub.publish(_assigned(3, 7, task_id=41))
    await _turns()

    # The tablet had been quiet: its task is on its socket without waiting for any tick …
    assert [m["seq"] for m in tablet.messages()] == [3]
    assert pushed == [41]
    # … while the console, written a moment ago, gathers its frames for its tick.
    assert len(console.writes) == 1
    clock.advance(FLUSH_INTERVAL_S)
    await console.next_write()
    assert len(console.writes) == 2
    assert [m["seq"] for m in console.messages()] == [1, 2, 3]


async def test_a_busy_socket_gets_one_write_a_tick_with_its_frames_in_order() -> None:
    clock = ManualClock()
    hub = Hub(make_config(), now=clock.now)
    console = WatchedSocket()
    hub.attach(console.connection(CITY))
    hub.publish(_reported(1, 7))
    await _turns()
    console.wrote.clear()
    for seq in range(2, 7):
        hub.publish(_alert(seq, 7))
        await _turns()
    assert len(console.writes) == 1

    clock.advance(FLUSH_INTERVAL_S)
    await console.next_write()
    assert len(console.writes) == 2
    assert [m["seq"] for m in console.messages()] == [1, 2, 3, 4, 5, 6]


async def test_frames_of_one_loop_turn_go_in_one_write_to_a_quiet_socket() -> None:
    hub = Hub(make_config(), now=ManualClock().now)
    tablet = WatchedSocket()
    hub.attach(tablet.connection(TABLET))
    hub.publish(_reported(1, 7))  # a tablet sees no incident it has no task in
    hub.publish(_assigned(2, 7, task_id=5))
    hub.publish(_alert(3, 7))  # now it is the crew's incident: its alerts reach the tablet
    await _turns()

    assert len(tablet.writes) == 1
    assert [m["seq"] for m in tablet.messages()] == [2, 3]


async def test_a_socket_quiet_for_a_tick_is_written_at_once_again() -> None:
    clock = ManualClock()
    hub = Hub(make_config(), now=clock.now)
    tablet = WatchedSocket()
    hub.attach(tablet.connection(TABLET))
    hub.publish(_assigned(1, 7, task_id=5))
    await _turns()
    clock.advance(FLUSH_INTERVAL_S)
    hub.publish(_assigned(2, 8, task_id=6))
    await _turns()

    assert len(tablet.writes) == 2
    assert [m["seq"] for m in tablet.messages()] == [1, 2]
