"""The MQTT link end to end over a real Mosquitto: sensors in, tasks out, acks and positions back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import TypeAdapter

from dispatch.config.model import Config
from gateways.mqtt_acl import QUEUE_SETTINGS
from gateways.mqtt_devices import SEEN_WITHIN_S
from tests.brokers import SYSTEM_BROKER, forget_server_sessions, forget_session, mosquitto_pub, private_broker
from tests.conftest import Harness, ServerFactory
from tests.factories import EAST_N, WEST_N, alert, make_config
from tests.gateways.test_frigate import FRIGATE, recorded
from tests.web.test_ws import _next as ws_next
from tests.web.test_ws import _socket as ws_socket
from web.schemas import Ready

WAIT_S = 15.0
FLOOD = 2_500  # well over Mosquitto's default max_queued_messages (1000)


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str) -> None:
    """Wait for an effect of the broker's (real network, real time); fail naming it."""
    give_up = time.monotonic() + WAIT_S
    while time.monotonic() < give_up:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


Start = Callable[[Config], Awaitable[Harness]]


@pytest.fixture
def prefix() -> str:
    """A topic prefix (and client ids) of the test's own on the shared broker."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
async def start(make_server: ServerFactory) -> AsyncIterator[Start]:
    """Start a server whose MQTT link is connected; its broker session is dropped afterwards."""
    started: list[Harness] = []

    async def launch(config: Config) -> Harness:
        harness = await make_server(config)
        started.append(harness)
        link = harness.runtime.mqtt
        assert link is not None
        await asyncio.wait_for(link.connected.wait(), WAIT_S)
        return harness

    yield launch
    for harness in started:
        await harness.client.close()
    for harness in started:
        assert harness.runtime.mqtt is not None
        await forget_server_sessions(harness.runtime.mqtt.broker_port, harness.config.mqtt.client_id)


def mqtt_config(prefix: str, port: int = SYSTEM_BROKER[1], **overrides: Any) -> Config:
    return make_config(
        mqtt={
            "url": f"mqtt://127.0.0.1:{port}",
            "client_id": f"{prefix}-server",
            "prefix": prefix,
            "frigate_prefix": f"{prefix}-frigate",
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
        **overrides,
    )


class Device:
    """A responder's tablet: a persistent session on its tasks topic, reconnecting on its own."""

    def __init__(self, port: int, prefix: str, responder_id: str) -> None:
        self.port = port
        self.prefix = prefix
        self.responder_id = responder_id
        self.client_id = f"{prefix}-{responder_id}"
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Device:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.subscribed.wait(), WAIT_S)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await forget_session(self.port, self.client_id)

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", self.port, identifier=self.client_id, clean_session=False
                ) as client:
                    await client.subscribe(f"{self.prefix}/responders/{self.responder_id}/tasks", qos=1)
                    self.subscribed.set()
                    async for message in client.messages:
                        assert isinstance(message.payload, bytes)
                        await self.messages.put(orjson.loads(message.payload))
            except aiomqtt.MqttError:
                self.subscribed.clear()
                await asyncio.sleep(0.05)

    async def next(self, kind: str) -> dict[str, Any]:
        """The next message whose event type (or message type, for results) is `kind`."""
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await self.messages.get()
                if message["type"] == kind or message.get("event", {}).get("type") == kind:
                    return message

    async def ack(self, task_id: int, trigger: str = "accept", **fields: Any) -> None:
        topic = f"{self.prefix}/responders/{self.responder_id}/acks"
        await mosquitto_pub(self.port, topic, {"task_id": task_id, "trigger": trigger, **fields})


async def alert_count(harness: Harness) -> int:
    response = await harness.client.get("/api/v1/incidents", headers=harness.auth("admin"))
    assert response.status == 200
    body = await response.json()
    return sum(each["alert_count"] for each in body["incidents"])


# End to end ------------------------------------------------------------------------------------


async def test_mqtt_sensor_alert_becomes_incident_task_reaches_tablet_and_ack_accepts(
    start: Start, prefix: str
) -> None:
    harness = await start(mqtt_config(prefix))
    port = SYSTEM_BROKER[1]
    async with Device(port, prefix, "grid-west-n-1") as tablet:
        await mosquitto_pub(port, f"{prefix}/sensors/gw-7/alerts", alert("w-1", location=WEST_N))

        assigned = await tablet.next("task_assigned")
        event = assigned["event"]
        task_id = event["task_id"]
        assert event["payload"]["responder_id"] == "grid-west-n-1"
        assert event["payload"]["category"] == "waterlogging"
        incident = await harness.incident(event["incident_id"])
        assert incident["alert_count"] == 1
        assert incident["alerts"][0]["source_event_id"] == "w-1"

        await tablet.ack(task_id, "accept", id="req-1")
        result = await tablet.next("result")
        assert result["ok"] is True and result["id"] == "req-1"
        assert result["task"]["state"] == "accepted"

        incident = await harness.incident(event["incident_id"])
        [task] = [each for each in incident["tasks"] if each["id"] == task_id]
        assert task["state"] == "accepted"
        # The first acknowledgement wins; the same one from another channel changes nothing.
        repeat = await harness.task_trigger(task_id, "accept", "grid-west-n-1")
        assert repeat["changed"] is False
        await tablet.ack(task_id, "accept")
        again = await tablet.next("result")
        assert again["ok"] is True and again["changed"] is False
        accepted = [e for e in incident["timeline"] if e["type"] == "task_accepted"]
        assert len(accepted) == 1 and accepted[0]["payload"]["channel"] == "mqtt"


async def test_mqtt_task_counts_as_sent_once_the_broker_has_it(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix))
    async with Device(SYSTEM_BROKER[1], prefix, "grid-west-n-1") as tablet:
        received = await harness.post_alert(alert("w-2"))
        assigned = await tablet.next("task_assigned")
        sent = await tablet.next("task_sent")
        assert sent["event"]["task_id"] == assigned["event"]["task_id"]
        assert sent["event"]["payload"]["channel"] == "mqtt"
        assert assigned["event"]["incident_id"] == received["incident_id"]


async def test_mqtt_batch_of_alerts_in_one_message(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix))
    batch = {"alerts": [alert("b-1"), alert("b-2", location=EAST_N), alert("b-1")]}
    await mosquitto_pub(SYSTEM_BROKER[1], f"{prefix}/sensors/gw-1/alerts", batch)

    await eventually(lambda: alert_count(harness), "the batch's alerts")
    await eventually(lambda: _count_is(harness, 2), "two distinct alerts")
    link = harness.runtime.mqtt
    assert link is not None
    assert link.received["sensor_alerts"] == 1


async def _count_is(harness: Harness, expected: int) -> bool:
    return await alert_count(harness) == expected


async def test_mqtt_position_report_moves_the_responder_and_shows_it_online_a_while(
    start: Start, prefix: str
) -> None:
    harness = await start(mqtt_config(prefix))
    await mosquitto_pub(
        SYSTEM_BROKER[1], f"{prefix}/responders/grid-east-n-1/location", {"lat": 28.18, "lon": 112.31}, qos=0
    )
    link = harness.runtime.mqtt
    assert link is not None
    await eventually(lambda: link.received["location"] == 1, "the position report")
    await harness.runtime.positions.flush()

    async def unit() -> dict[str, Any]:
        response = await harness.client.get("/api/v1/responders", headers=harness.auth("admin"))
        [found] = [each for each in (await response.json())["responders"] if each["id"] == "grid-east-n-1"]
        return found

    seen = await unit()
    assert seen["position"] == {"lat": 28.18, "lon": 112.31}
    assert seen["online"] is True
    harness.runtime.clock.advance(SEEN_WITHIN_S + 1)  # type: ignore[attr-defined]
    assert (await unit())["online"] is False


async def test_mqtt_readiness_shows_both_sessions_and_counters(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix))
    await mosquitto_pub(SYSTEM_BROKER[1], f"{prefix}/sensors/gw-1/alerts", b"not json")
    link = harness.runtime.mqtt
    assert link is not None
    await eventually(lambda: link.rejected["malformed_json"] == 1, "the rejection")

    response = await harness.client.get("/readyz")
    assert response.status == 200
    ready = TypeAdapter(Ready).validate_json(await response.read(), strict=True)
    assert ready["mqtt"] is not None and ready["mqtt"]["connected"]
    assert ready["mqtt"]["sessions"] == {f"{prefix}-server": True, f"{prefix}-server-tablets": True}
    assert ready["mqtt"]["rejected"] == {"malformed_json": 1}


async def test_mqtt_metrics_count_alerts_on_the_mqtt_channel_and_the_link(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix))
    batch = {"alerts": [alert("m-1"), alert("m-2", location=EAST_N), alert("m-1")]}
    await mosquitto_pub(SYSTEM_BROKER[1], f"{prefix}/sensors/gw-1/alerts", batch)
    await mosquitto_pub(SYSTEM_BROKER[1], f"{prefix}/sensors/gw-1/alerts", b"not json")
    link = harness.runtime.mqtt
    assert link is not None
    await eventually(lambda: _count_is(harness, 2), "two distinct alerts")
    await eventually(lambda: link.rejected["malformed_json"] == 1, "the rejection")
    # The two new incidents' task assignments pass through the outbox on their way out: wait
    # until both went (an empty outbox alone may be the moment before they were queued).
    await eventually(lambda: link.published >= 2 and link.stats()["outbox"] == 0, "both tasks published")

    response = await harness.client.get("/metrics", headers=harness.auth("admin"))
    assert response.status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }

    assert samples[("dispatch_alerts_received_total", (("channel", "mqtt"),))] == 2
    assert samples[("dispatch_alerts_duplicate_total", (("channel", "mqtt"),))] == 1
    assert samples[("dispatch_mqtt_connected", ())] == 1
    assert samples[("dispatch_mqtt_rejected_total", (("kind", "malformed_json"),))] == 1
    assert samples[("dispatch_mqtt_received_total", (("kind", "sensor_alerts"),))] == 1
    assert samples[("dispatch_mqtt_outbox_messages", ())] == 0
    assert samples[("dispatch_mqtt_session_up", (("client_id", f"{prefix}-server"),))] == 1


# Bad input ---------------------------------------------------------------------------------------

DEEP = b'{"a": ' * 300 + b"1" + b"}" * 300  # orjson writes at most 254 levels


BAD_MESSAGES = [
    ("sensors/gw-1/alerts", b"{not json", "malformed_json"),
    ("sensors/gw-1/alerts", b"", "malformed_json"),
    ("sensors/gw-1/alerts", b"[1, 2]", "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", kind="telepathy")), "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", category="volcano")), "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", title="a\u0000b")), "invalid"),
    ("responders/grid-west-n-1/acks", b'{"task_id": 1, "trigger": "explode"}', "invalid"),
    ("responders/grid-west-n-1/acks", b'{"task_id": 999999, "trigger": "accept"}', "refused"),
    # A dispatcher's trigger: a word of the task machine, refused by the service (authz.py).
    ("responders/grid-west-n-1/acks", b'{"task_id": 1, "trigger": "cancel"}', "refused"),
    ("responders/nobody/acks", b'{"task_id": 1, "trigger": "accept"}', "unknown_responder"),
    ("responders/grid-west-n-1/location", b'{"lat": 123, "lon": 0}', "invalid"),
    ("-frigate/events", b'{"type": "new"}', "invalid"),
    ("-frigate/reviews", b'{"type": "new", "after": {"id": "r"}}', "invalid"),
    ("-frigate/reviews", b"[]", "invalid"),
    # Poisoned data: refused (and counted) like any other bad message, never left to come back.
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", observed_at="9999-12-31T23:59:59-23:59")), "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", severity=True)), "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x", severity="2")), "invalid"),
    ("sensors/gw-1/alerts", orjson.dumps(alert("x"))[:-1] + b', "attributes": ' + DEEP + b"}", "invalid"),
    ("sensors/gw-1/alerts", b'{"a": ' * 1100 + b"1" + b"}" * 1100, "malformed_json"),
    ("responders/grid-west-n-1/acks", b'{"task_id": "1", "trigger": "accept"}', "invalid"),
    ("responders/grid-west-n-1/acks", b'{"task_id": true, "trigger": "accept"}', "invalid"),
    ("responders/grid-west-n-1/location", b'{"lat": "28.1", "lon": 112.3}', "invalid"),
    ("-frigate/events", orjson.dumps(recorded("new"))[:-2] + b', "region_data": ' + DEEP + b"}}", "invalid"),
    (
        "-frigate/events",
        orjson.dumps({**recorded("new"), "after": {**recorded("new")["after"], "top_score": True}}),
        "invalid",
    ),
]


async def test_mqtt_bad_messages_are_counted_and_logged_and_the_loop_goes_on(
    start: Start, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await start(mqtt_config(prefix, frigate=FRIGATE))
    link = harness.runtime.mqtt
    assert link is not None
    port = SYSTEM_BROKER[1]
    for suffix, payload, _ in BAD_MESSAGES:
        topic = f"{prefix}{suffix}" if suffix.startswith("-") else f"{prefix}/{suffix}"
        await mosquitto_pub(port, topic, payload)
    await mosquitto_pub(port, f"{prefix}/sensors/gw-1/alerts", alert("after-the-bad-ones"))

    await eventually(lambda: link.received["sensor_alerts"] == 1, "the good alert after the bad ones")
    expected: dict[str, int] = {}
    for _, _, reason in BAD_MESSAGES:
        expected[reason] = expected.get(reason, 0) + 1
    await eventually(lambda: dict(link.rejected) == expected, f"rejections {expected}, got {link.rejected}")
    assert await alert_count(harness) == 1
    assert link.failed == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateways.mqtt_link"]
    assert any("unknown category" in line or "volcano" in line for line in warnings), warnings
    assert any("explode" in line for line in warnings)
    assert any("observed_at" in line and "before 2000" not in line for line in warnings), warnings
    assert any("attributes: nested 300 levels deep" in line for line in warnings), warnings


async def test_mqtt_sensor_gateway_alert_for_a_source_it_does_not_speak_for_is_rejected(
    start: Start, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = mqtt_config(prefix)
    mqtt = {**config.mqtt.model_dump(mode="json"), "sensor_gateway_sources": {"gw-1": ["gauge-*"]}}
    harness = await start(make_config(mqtt=mqtt))
    link = harness.runtime.mqtt
    assert link is not None
    port = SYSTEM_BROKER[1]
    batch = {"alerts": [alert("g-1", source="gauge-1"), alert("p-1", source="pump-3")]}

    await mosquitto_pub(port, f"{prefix}/sensors/gw-1/alerts", batch)
    await mosquitto_pub(port, f"{prefix}/sensors/gw-1/alerts", alert("g-2", source="gauge-2"))

    await eventually(lambda: link.received["sensor_alerts"] == 1, "the gauge's own alert")
    assert dict(link.rejected) == {"forbidden_source": 1}
    assert await alert_count(harness) == 1  # the refused batch stored nothing, not even gauge-1
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateways.mqtt_link"]
    assert any("forbidden_source" in line and "'pump-3'" in line for line in warnings), warnings


# Frigate ------------------------------------------------------------------------------------------


async def test_mqtt_frigate_flood_of_one_object_is_one_alert_one_incident(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix, frigate=FRIGATE))
    link = harness.runtime.mqtt
    assert link is not None
    message = recorded("update")
    async with aiomqtt.Client("127.0.0.1", SYSTEM_BROKER[1]) as frigate:
        for index in range(200):  # 10 s of updates, 20 a second, as Frigate sends them
            message["after"]["score"] = 0.75 + (index % 20) / 100
            harness.runtime.clock.advance(0.05)  # type: ignore[attr-defined]
            await frigate.publish(f"{prefix}-frigate/events", orjson.dumps(message), qos=1)
    await eventually(lambda: link.received["frigate_events"] == 200, "all 200 Frigate updates")

    response = await harness.client.get("/api/v1/incidents", headers=harness.auth("admin"))
    incidents = (await response.json())["incidents"]
    assert len(incidents) == 1
    assert incidents[0]["alert_count"] == 1


async def test_mqtt_frigate_review_alert_is_one_alert_its_end_resolves_it(start: Start, prefix: str) -> None:
    harness = await start(mqtt_config(prefix, frigate=FRIGATE))
    link = harness.runtime.mqtt
    assert link is not None
    topic = f"{prefix}-frigate/reviews"
    await mosquitto_pub(SYSTEM_BROKER[1], topic, recorded("review_detection"))  # not an alert
    await mosquitto_pub(SYSTEM_BROKER[1], topic, recorded("review_alert"))
    await mosquitto_pub(SYSTEM_BROKER[1], topic, recorded("review_end"))
    await eventually(lambda: link.received["frigate_reviews"] == 3, "the three review messages")

    response = await harness.client.get("/api/v1/incidents", headers=harness.auth("admin"))
    [incident] = (await response.json())["incidents"]
    detail = await harness.incident(incident["id"])
    [video] = detail["alerts"]
    assert video["source_event_id"].startswith("review:")
    assert [e["type"] for e in detail["timeline"] if e["type"].startswith("alert_")][-1] == "alert_resolved"


# Outages -------------------------------------------------------------------------------------------


async def test_mqtt_broker_restart_loses_nothing_and_unanswered_tasks_are_sent_again(
    start: Start, prefix: str, tmp_path: Path
) -> None:
    # The broker keeps its sessions over the restart (persistence, as `dispatch mqtt-acl` tells
    # operators to set): without it, what the server sends again before a tablet has
    # resubscribed to the new broker reaches nobody, and which of the two comes back first is
    # a race. So the tablets' subscriptions survive, and the task each gets again proves the
    # server sent it again.
    async with private_broker(tmp_path, persistence=True) as broker:
        harness = await start(mqtt_config(prefix, broker.port))
        link = harness.runtime.mqtt
        assert link is not None
        async with (
            Device(broker.port, prefix, "grid-west-n-1") as west,
            Device(broker.port, prefix, "grid-east-n-1") as east,
        ):
            await mosquitto_pub(broker.port, f"{prefix}/sensors/gw-1/alerts", alert("before"))
            first = (await west.next("task_assigned"))["event"]

            await broker.stop()
            await eventually(lambda: not link.connected.is_set(), "the link to notice the outage")
            # HTTP intake and the WebSocket carry on meanwhile; the MQTT copy waits for the broker.
            token = harness.token("responder", name="grid-east-n-1", responder="grid-east-n-1")
            async with ws_socket(harness, token) as tablet:
                during = await harness.post_alert(alert("during", location=EAST_N))
                over_ws = await ws_next(tablet, "task_assigned")
                assert over_ws["event"]["incident_id"] == during["incident_id"]
            await broker.start()

            await eventually(link.connected.is_set, "the link to reconnect")
            await asyncio.wait_for(west.subscribed.wait(), WAIT_S)
            await asyncio.wait_for(east.subscribed.wait(), WAIT_S)
            again = (await west.next("task_assigned"))["event"]
            assert again["task_id"] == first["task_id"]  # not accepted yet: published again
            second = (await east.next("task_assigned"))["event"]
            assert second["incident_id"] == during["incident_id"]

            await west.ack(first["task_id"])
            assert (await west.next("result"))["task"]["state"] == "accepted"
            await mosquitto_pub(broker.port, f"{prefix}/sensors/gw-1/alerts", alert("after"))
            await eventually(lambda: _count_is(harness, 3), "all three alerts")


async def test_mqtt_alerts_published_while_the_server_is_down_arrive_when_it_starts(
    start: Start, prefix: str
) -> None:
    config = mqtt_config(prefix)
    first = await start(config)
    await first.client.close()  # its session stays at the broker (clean_session false)

    port = SYSTEM_BROKER[1]
    for index in range(5):
        await mosquitto_pub(port, f"{prefix}/sensors/gw-1/alerts", alert(f"offline-{index}"))

    second = await start(config)
    await eventually(lambda: _count_is(second, 5), "the five alerts the broker kept")


async def test_mqtt_broker_set_up_as_mqtt_acl_says_keeps_a_flood_sent_while_the_server_is_down(
    start: Start, prefix: str, tmp_path: Path
) -> None:
    """Mosquitto's default keeps 1000 queued messages per session and drops the rest silently."""
    async with private_broker(tmp_path, "\n".join(QUEUE_SETTINGS[:1]) + "\n") as broker:
        config = mqtt_config(prefix, broker.port)
        first = await start(config)
        await first.client.close()

        async with aiomqtt.Client("127.0.0.1", broker.port, max_inflight_messages=500) as sensor:
            for index in range(FLOOD):
                body = orjson.dumps(alert(f"flood-{index}", source=f"gauge-{index}", location=EAST_N))
                await sensor.publish(f"{prefix}/sensors/gw-1/alerts", body, qos=1)

        second = await start(config)
        link = second.runtime.mqtt
        assert link is not None
        await eventually(lambda: link.received["sensor_alerts"] >= FLOOD, f"all {FLOOD} alerts")
        assert second.runtime.service.accepted_alerts == FLOOD
