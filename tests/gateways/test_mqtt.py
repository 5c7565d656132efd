"""MQTT payloads and topics: `translate_*()` on recorded messages, good and malformed."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from dispatch.intake.alerts import AlertKind
from gateways.mqtt import (
    Rejected,
    RejectReason,
    result_message,
    task_message,
    translate_ack,
    translate_alerts,
    translate_location,
)
from gateways.mqtt_topics import TopicKind, Topics

FIXTURES = Path(__file__).parent / "fixtures" / "mqtt"
TOPICS = Topics("dispatch", "frigate")


def recorded(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


# Topics -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "kind", "owner"),
    [
        ("dispatch/sensors/gw-7/alerts", TopicKind.SENSOR_ALERTS, "gw-7"),
        ("dispatch/responders/grid-1/acks", TopicKind.ACKS, "grid-1"),
        ("dispatch/responders/grid-1/location", TopicKind.LOCATION, "grid-1"),
        ("frigate/events", TopicKind.FRIGATE_EVENTS, ""),
        ("frigate/reviews", TopicKind.FRIGATE_REVIEWS, ""),
    ],
)
async def test_mqtt_topics_parse_names_kind_and_owner(topic: str, kind: TopicKind, owner: str) -> None:
    parsed = TOPICS.parse(topic)
    assert (parsed.kind, parsed.owner) == (kind, owner)


@pytest.mark.parametrize(
    "topic",
    [
        "dispatch/sensors/gw-7/alerts/extra",
        "dispatch/sensors//alerts",
        "dispatch/responders/grid-1/tasks",  # ours to publish, never to read
        "dispatch/sensors/gw-7/status",
        "other/sensors/gw-7/alerts",
        "frigate/available",
    ],
)
async def test_mqtt_topics_parse_refuses_what_the_server_does_not_read(topic: str) -> None:
    with pytest.raises(Rejected) as caught:
        TOPICS.parse(topic)
    assert caught.value.reason == RejectReason.UNKNOWN_TOPIC
    assert topic in caught.value.message


async def test_mqtt_topics_subscriptions_and_task_topic() -> None:
    assert TOPICS.intake_filters() == ["dispatch/sensors/+/alerts", "frigate/events", "frigate/reviews"]
    assert TOPICS.device_filters() == ["dispatch/responders/+/acks", "dispatch/responders/+/location"]
    assert TOPICS.subscriptions() == TOPICS.intake_filters() + TOPICS.device_filters()
    assert Topics("city/a", None).subscriptions()[-1] == "city/a/responders/+/location"
    assert TOPICS.tasks("grid-1") == "dispatch/responders/grid-1/tasks"


# Sensor alerts -----------------------------------------------------------------------------------


async def test_mqtt_translate_alerts_one_recorded_gauge_reading() -> None:
    [(alert, raw)] = translate_alerts(recorded("sensor_gauge"), max_batch=10)

    assert alert.source == "gauge-qionghu-3"
    assert alert.source_event_id == "17"  # a numbered event is keyed as text
    assert alert.kind == AlertKind.SENSOR
    assert alert.severity == 3
    assert alert.attributes["level_m"] == 32.4
    assert orjson.loads(raw)["title"] == "琼湖水位超警戒 0.4 m"


async def test_mqtt_translate_alerts_a_recorded_batch_keeps_order() -> None:
    alerts = translate_alerts(recorded("sensor_batch"), max_batch=10)
    assert [alert.source for alert, _ in alerts] == ["smoke-0012", "smoke-0013"]


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (b"", RejectReason.MALFORMED_JSON, "empty payload"),
        (b'{"source": ', RejectReason.MALFORMED_JSON, "not valid JSON"),
        (b"[1, 2]", RejectReason.INVALID, "send one alert object"),
        (b'"alert"', RejectReason.INVALID, "send one alert object"),
        (b'{"alerts": []}', RejectReason.INVALID, "at least one"),
        (b'{"alerts": {}}', RejectReason.INVALID, "must be a list"),
        (b'{"alerts": [], "extra": 1}', RejectReason.INVALID, "unexpected field 'extra'"),
        (b'{"source": "g", "kind": "sensor", "category": "x"}', RejectReason.INVALID, "source_event_id"),
        (
            b'{"alerts": [{"source": "g", "source_event_id": "1", "kind": "sensor", "category": "x"},'
            b' {"source": "g", "source_event_id": "2", "kind": "psychic", "category": "x"}]}',
            RejectReason.INVALID,
            "alerts.1.kind",
        ),
        (
            b'{"source": "g", "source_event_id": "1", "kind": "sensor", "category": "x",'
            b' "title": "a\\u0000"}',
            RejectReason.INVALID,
            "title: text may not contain NUL",
        ),
    ],
)
async def test_mqtt_translate_alerts_refuses_malformed_naming_the_problem(
    payload: bytes, reason: RejectReason, words: str
) -> None:
    with pytest.raises(Rejected) as caught:
        translate_alerts(payload, max_batch=10)
    assert caught.value.reason == reason
    assert words in caught.value.message


async def test_mqtt_translate_alerts_refuses_a_batch_over_the_limit() -> None:
    batch = orjson.loads(recorded("sensor_batch"))
    with pytest.raises(Rejected) as caught:
        translate_alerts(orjson.dumps(batch), max_batch=1)
    assert caught.value.reason == RejectReason.TOO_LARGE


# Acks and positions --------------------------------------------------------------------------------


async def test_mqtt_translate_ack_recorded_accept_and_decline() -> None:
    accept = translate_ack(recorded("ack_accept"))
    assert (accept.task_id, accept.trigger, accept.id) == (41, "accept", "tab-7f3a-0001")
    decline = translate_ack(recorded("ack_decline"))
    assert decline.trigger == "decline" and decline.note == "车辆故障，无法出动"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"task_id": 41, "trigger": "dispatch"}', "'dispatch' is not one of"),
        (b'{"task_id": "forty", "trigger": "accept"}', "task_id"),
        (b'{"task_id": 0, "trigger": "accept"}', "task_id"),
        (b'{"trigger": "accept"}', "task_id: this field is required"),
        (b'{"task_id": 41, "trigger": "accept", "by": "x"}', "by"),
    ],
)
async def test_mqtt_translate_ack_refuses_malformed(payload: bytes, words: str) -> None:
    with pytest.raises(Rejected) as caught:
        translate_ack(payload)
    assert caught.value.reason == RejectReason.INVALID
    assert words in caught.value.message


async def test_mqtt_translate_location_recorded_fix_ignores_extra_fields() -> None:
    location = translate_location(recorded("location"))
    assert (location.lat, location.lon) == (28.8451, 112.3549)


@pytest.mark.parametrize(
    ("payload", "words"),
    [(b'{"lat": 91, "lon": 0}', "lat"), (b'{"lat": 28.8}', "lon"), (b"{}", "lat"), (b"12", "")],
)
async def test_mqtt_translate_location_refuses_impossible_fixes(payload: bytes, words: str) -> None:
    with pytest.raises(Rejected) as caught:
        translate_location(payload)
    assert caught.value.reason == RejectReason.INVALID
    assert words in caught.value.message


# What goes out --------------------------------------------------------------------------------------


async def test_mqtt_task_and_result_messages_are_the_websockets_frames() -> None:
    body = {"seq": 9, "type": "task_assigned", "task_id": 41, "incident_id": 3, "payload": {}}
    assert orjson.loads(task_message(body)) == {"type": "event", "seq": 9, "event": body}
    ack = translate_ack(recorded("ack_accept"))
    result = orjson.loads(result_message(ack, {"ok": True, "changed": False}))
    assert result == {"type": "result", "id": "tab-7f3a-0001", "task_id": 41, "ok": True, "changed": False}
