"""The link's way out: a committed task is on the wire one loop turn after its bus callback.

A stand-in for aiomqtt's client records what happens in which order; no broker, no sleeps.
The broker-backed behaviour (outages, resending, acknowledgements) is in test_mqtt_link.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dispatch.config.gateways import Mqtt
from dispatch.events.catalog import TaskAssigned
from gateways.mqtt_link import MqttLink


class Paho:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def _packet_write(self) -> int:
        self.log.append("written")
        return 0


class Client:
    """What the link uses of aiomqtt.Client: publish (returns once the broker took it), _client."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self._client = Paho(log)
        self.pubacks: list[asyncio.Future[None]] = []

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.log.append(f"queued {topic}")
        puback = asyncio.get_running_loop().create_future()
        self.pubacks.append(puback)
        await puback


class Desk:
    max_batch = 100

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def task_published(self, task_id: int) -> None:
        self.log.append(f"published {task_id}")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the link asked the desk for {name}")


def _assigned(task_id: int, responder_id: str) -> TaskAssigned:
    return TaskAssigned(
        occurred_at=1_700_000_000.0,
        actor="system",
        incident_id=1,
        task_id=task_id,
        seq=task_id,
        responder_id=responder_id,
        tier="street",
        step_index=0,
        distance_m=10.0,
        accept_deadline_at=None,
        category="fire",
        severity=4,
        lat=None,
        lon=None,
        title="t",
    )


async def _turn(count: int = 1) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_tasks_of_one_bus_callback_are_written_together_the_next_loop_turn() -> None:
    log: list[str] = []
    link = MqttLink(Mqtt(url="mqtt://127.0.0.1:1883", prefix="p"), Desk(log))  # type: ignore[arg-type]
    client = Client(log)
    link.publish_on((link.sessions[1], client))  # type: ignore[arg-type]

    link.notice(_assigned(1, "u1"))  # one commit's events, published by one bus callback
    link.notice(_assigned(2, "u2"))
    assert log == []
    await _turn()

    # No task wakes up to take them, no writer registration waits for the selector: both
    # packets are queued, then written in one go, within the loop turn after the commit.
    assert log == ["queued p/responders/u1/tasks", "queued p/responders/u2/tasks", "written"]
    for puback in client.pubacks:
        puback.set_result(None)
    await _turn(2)
    assert log[3:] == ["published 1", "published 2"]
    assert link.stats()["published"] == 2


async def test_without_a_session_messages_wait_in_the_outbox_and_go_when_one_comes() -> None:
    log: list[str] = []
    settings = Mqtt(url="mqtt://127.0.0.1:1883", prefix="p", max_inflight=1)
    link = MqttLink(settings, Desk(log))  # type: ignore[arg-type]
    link.notice(_assigned(1, "u1"))
    link.notice(_assigned(2, "u2"))
    await _turn()
    assert log == [] and link.stats()["outbox"] == 2

    client = Client(log)
    link.publish_on((link.sessions[1], client))  # type: ignore[arg-type]
    await _turn()
    assert log == ["queued p/responders/u1/tasks", "written"]  # a window of one
    client.pubacks[0].set_result(None)
    await _turn(4)  # the publish returns, its task ends, its slot frees: the next one goes
    assert log[2:] == ["published 1", "queued p/responders/u2/tasks", "written"]
    client.pubacks[1].set_result(None)
    await _turn(2)
    assert link.stats()["outbox"] == 0 and link.stats()["published"] == 2
