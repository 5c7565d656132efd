"""A department's duty desk hears of its department tasks (协办) on its MQTT topic, QoS 1 (real Mosquitto)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import orjson

from tests.brokers import SYSTEM_BROKER, forget_session
from tests.factories import WEST_N, alert
from tests.gateways.test_mqtt_link import WAIT_S, Start, mqtt_config
from tests.gateways.test_mqtt_link import start as start  # the fixture: a server with its link up


@asynccontextmanager
async def _duty_desk(prefix: str, department: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The department's desk: a persistent QoS 1 subscription to its tasks topic."""
    host, port = "127.0.0.1", SYSTEM_BROKER[1]
    client_id = f"{prefix}-department-{department}"
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with aiomqtt.Client(host, port, identifier=client_id, clean_session=False) as client:
            await client.subscribe(f"{prefix}/departments/{department}/tasks", qos=1)
            subscribed.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                assert message.qos == 1
                await received.put(orjson.loads(message.payload))

    listening = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(subscribed.wait(), WAIT_S)
        yield received
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await forget_session(port, client_id)


async def _next(received: asyncio.Queue[dict[str, Any]], kind: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while (message := await received.get())["event"]["type"] != kind:
            pass
    return message


async def test_mqtt_department_topic_receives_the_department_task_and_its_progress(start: Start) -> None:
    prefix = "t" + uuid.uuid4().hex[:12]
    server = await start(mqtt_config(prefix))
    title = "Underpass flooded, stalls in the water"
    incident_id = (await server.post_alert(alert("w1", location=WEST_N, title=title, severity=3)))[
        "incident_id"
    ]

    async with _duty_desk(prefix, "urban") as urban, _duty_desk(prefix, "flood") as flood:
        await server.incident_trigger(incident_id, "add_department", {"department": "urban"})
        sent = await _next(urban, "department_task_sent")
        task_id = sent["task"]["id"]
        accepted = await server.client.post(
            f"/api/v1/department-tasks/{task_id}/accept",
            headers=server.auth("dispatcher", name="urban", department="urban"),
        )
        assert accepted.status == 200
        progress = await _next(urban, "department_task_accepted")

    assert sent["type"] == "department_task"
    assert sent["incident_id"] == incident_id
    assert (sent["category"], sent["severity"], sent["title"]) == ("waterlogging", 3, title)
    assert sent["place"] == {"jurisdiction": "west-n", **WEST_N}
    assert sent["task"]["department_id"] == "urban"
    assert sent["task"]["state"] == "sent"
    assert sent["task"]["accept_by"] is not None
    assert progress["task"] == {**sent["task"], "state": "accepted"}
    assert flood.empty()  # the lead department's desk is not sent another's part
