"""The process bus on a real Unix socket: calls, errors as raised, ordered broadcasts, a core gone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dispatch.shared.errors import IllegalTransition
from dispatch.shared.process_bus import BusClient, BusClosed, BusServer

WAIT_S = 5.0


async def test_calls_are_answered_and_errors_cross_as_raised(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def add(a: int, b: int, *, times: int = 1) -> int:
        return (a + b) * times

    async def refuse() -> None:
        raise IllegalTransition("incident 7 is resolved", state="resolved", allowed=["reopen"])

    async def slow() -> str:
        await release.wait()
        return "slow"

    server = BusServer(str(tmp_path / "core.sock"), {"add": add, "refuse": refuse, "slow": slow})
    await server.start()
    client = BusClient(server.path, lambda topic, payload: None)
    await client.connect()
    try:
        # Calls run side by side: a slow one does not hold back the next (group commit needs this).
        waiting = asyncio.create_task(client.call("slow"))
        assert await client.call("add", 2, 3, times=2) == 10
        release.set()
        assert await asyncio.wait_for(waiting, WAIT_S) == "slow"
        with pytest.raises(IllegalTransition) as refused:
            await client.call("refuse")
        assert refused.value.state == "resolved"  # keyword-only attributes survive the trip
        assert refused.value.allowed == ["reopen"]
        assert str(refused.value) == "incident 7 is resolved"
        with pytest.raises(LookupError, match="no call named 'nothing'"):
            await client.call("nothing")
    finally:
        await client.close()
        await server.close()


async def test_broadcasts_arrive_in_order_and_a_gone_core_fails_waiting_calls(tmp_path: Path) -> None:
    told: list[tuple[str, Any]] = []
    all_told = asyncio.Event()

    def on_broadcast(topic: str, payload: Any) -> None:
        told.append((topic, payload))
        if len(told) == 100:
            all_told.set()

    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    async def ping() -> str:
        return "pong"

    server = BusServer(str(tmp_path / "core.sock"), {"hang": hang, "ping": ping})
    await server.start()
    client = BusClient(server.path, on_broadcast)
    await client.connect()
    try:
        assert await client.call("ping") == "pong"  # answered: the core knows this front
        assert server.peers == 1
        for n in range(100):
            server.broadcast("events", [n])
        await asyncio.wait_for(all_told.wait(), WAIT_S)
        assert [payload for _, payload in told] == [[n] for n in range(100)]

        hanging = asyncio.create_task(client.call("hang"))
        await asyncio.sleep(0)
        await server.close()
        with pytest.raises(BusClosed) as lost:
            await asyncio.wait_for(hanging, WAIT_S)
        assert lost.value.sent  # it had gone out: the core may have acted on it
        await asyncio.wait_for(client.closed.wait(), WAIT_S)
        with pytest.raises(BusClosed) as refused:
            await client.call("hang")
        assert not refused.value.sent
    finally:
        await client.close()
