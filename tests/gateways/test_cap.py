"""CAP 1.2: the specification's Appendix A messages, hostile XML, and Alert → Update → Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter

from dispatch.config.model import CapGateway, Config
from dispatch.shared.errors import DispatchError, InvalidInput
from dispatch.storage.tables import alert_table, event_table, incident_table
from gateways import cap, cap_alert, cap_xml
from tests.conftest import Harness, ServerFactory
from tests.factories import alert, make_config
from web.alert_feeds import CapResult

FIXTURES = Path(__file__).parent / "fixtures" / "cap"
URL = "/api/v1/alerts/cap"

CAP = {
    "categories": {"SEVERE THUNDERSTORM": "waterlogging", "Geo": "waterlogging", "flood": "waterlogging"},
    "default_category": "vending",
    "geocodes": {"SAME:006037": "east"},
    "default_jurisdiction": "city",
}


def _config() -> Config:
    return make_config(cap=CAP)


def _settings() -> CapGateway:
    return _config().cap


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
async def cap_server(make_server: ServerFactory) -> Harness:
    return await make_server(_config())


async def _post(
    server: Harness, body: bytes, *, content_type: str = "application/xml", expect: int = 202
) -> Any:
    response = await server.client.post(
        URL, data=body, headers={**server.auth("gateway"), "Content-Type": content_type}
    )
    assert response.status == expect, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


async def _count(server: Harness, table: sa.Table) -> int:
    return await server.runtime.read(
        lambda connection: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    )


# translate() on the specification's examples (CAP 1.2, Appendix A) ----------------------------

APPENDIX_A: list[tuple[str, dict[str, Any]]] = [
    (
        "a1_homeland_security_advisory.xml",
        {
            "source": "hsas@dhs.gov",
            "source_event_id": "43b080713727",
            "category": "vending",  # CAP category Security is not mapped: the default
            "severity": 2,
            "location": None,
            "jurisdiction": "city",  # no polygon, circle or geocode: the default jurisdiction
            "title": "Homeland Security Sets Code ORANGE",
            "observed_at": "2003-04-02T14:39:01-05:00",
        },
    ),
    (
        "a2_severe_thunderstorm_warning.xml",
        {
            "source": "KSTO@NWS.NOAA.GOV",
            "source_event_id": "KSTO1055887203",
            "category": "waterlogging",  # by its event, whatever its case
            "severity": 2,
            "location": {"lat": pytest.approx(38.4840, abs=1e-4), "lon": pytest.approx(-119.9346, abs=1e-4)},
            "jurisdiction": None,
            "title": "SEVERE THUNDERSTORM WARNING",
            "observed_at": "2003-06-17T14:57:00-07:00",
        },
    ),
    (
        "a3_earthquake_report_update.xml",
        {
            "source": "trinet@caltech.edu",
            "source_event_id": "TRI13970876.2",
            "category": "waterlogging",  # by its CAP category Geo
            "severity": 4,
            "location": {"lat": 32.9525, "lon": -115.5527},  # the circle's center
            "jurisdiction": None,
            "title": "EQ 3.4 Imperial County CA",
            "observed_at": "2003-06-11T20:56:00-07:00",
        },
    ),
    (
        "a4_amber_alert_multilingual.xml",
        {
            "source": "KARO@CLETS.DOJ.CA.GOV",
            "source_event_id": "KAR0-0306112239-SW",
            "category": "vending",
            "severity": 2,
            "location": None,
            "jurisdiction": "east",  # by its geocode SAME 006037
            "title": "Amber Alert in Los Angeles County",
            "observed_at": "2003-06-11T22:39:00-07:00",
        },
    ),
]


@pytest.mark.parametrize(("name", "expected"), APPENDIX_A, ids=[name for name, _ in APPENDIX_A])
def test_cap_translate_specification_examples(name: str, expected: dict[str, Any]) -> None:
    message = cap.translate(_fixture(name), _settings())

    assert message.alert is not None and message.ignored is None
    alert = message.alert.model_dump(mode="json")
    assert {key: alert[key] for key in expected} == expected
    assert alert["kind"] == "cap"
    assert alert["attributes"]["cap"]["identifier"] == expected["source_event_id"]


def test_cap_translate_info_blocks_in_two_languages_make_one_alert() -> None:
    message = cap.translate(_fixture("a4_amber_alert_multilingual.xml"), _settings())

    assert message.alert is not None
    infos = message.alert.attributes["cap"]["info"]
    assert [info["language"] for info in infos] == ["en-US", "es-US"]
    assert [info["event"] for info in infos] == ["Child Abduction", "Abducción de Niño"]
    assert infos[0]["certainty"] == "Likely" and infos[0]["urgency"] == "Immediate"


def test_cap_translate_update_supersedes_its_references() -> None:
    message = cap.translate(_fixture("a3_earthquake_report_update.xml"), _settings())

    assert message.message_type == cap.MessageType.UPDATE
    assert message.references == [
        cap.Reference("trinet@caltech.edu", "TRI13970876.1", "2003-06-11T20:30:00-07:00")
    ]
    assert message.alert is not None
    assert message.alert.attributes["supersedes"] == [["trinet@caltech.edu", "TRI13970876.1"]]


def test_cap_translate_cancel_carries_only_references() -> None:
    message = cap.translate(_fixture("yj_flood_cancel.xml"), _settings())

    assert (message.message_type, message.alert, message.ignored) == (cap.MessageType.CANCEL, None, None)
    assert [reference.identifier for reference in message.references] == ["flood-1", "flood-2"]


SHORT_POLYGON = b"<polygon>1,2 3,4</polygon>"


def _message(**parts: str) -> bytes:
    fields = {
        "identifier": "x-1",
        "sender": "met@example.cn",
        "sent": "2026-07-01T08:00:00+08:00",
        "status": "Actual",
        "msgType": "Alert",
        "scope": "Public",
    }
    fields.update(parts)
    head = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items() if value)
    info = (
        "<info><category>Met</category><event>Flood</event><urgency>Immediate</urgency>"
        "<severity>Extreme</severity><certainty>Observed</certainty>"
        "<area><areaDesc>x</areaDesc><circle>28.15,112.1 1.5</circle></area></info>"
    )
    return f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">{head}{info}</alert>'.encode()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (_message(identifier=""), "identifier"),
        (_message(sent="yesterday"), "sent"),
        (_message(sent="2026-07-01T08:00:00"), "sent"),
        (_message(msgType="Shout"), "msgType"),
        (_message(msgType="Update"), "references"),
        (_message(msgType="Cancel", references="met@example.cn x-0"), "references"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:9"/>', "alert"),
        (_message().replace(b"28.15,112.1 1.5", b"95,112.1 0"), "info.area.circle"),
        (_message().replace(b"<circle>28.15,112.1 1.5</circle>", SHORT_POLYGON), "info.area.polygon"),
    ],
    ids=["no-identifier", "bad-sent", "naive-sent", "bad-msgType", "update-without-references",
         "bad-reference", "other-namespace", "latitude-95", "short-polygon"],
)  # fmt: skip
def test_cap_translate_malformed_names_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        cap.translate(raw, _settings())

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("status", "msg_type", "ignored"),
    [
        ("Test", "Alert", "status Test"),
        ("Exercise", "Alert", "status Exercise"),
        ("Actual", "Ack", "msgType Ack"),
    ],
)
def test_cap_translate_not_actual_is_ignored(status: str, msg_type: str, ignored: str) -> None:
    references = "met@example.cn,x-0,2026-07-01T07:00:00+08:00" if msg_type == "Ack" else ""
    message = cap.translate(_message(status=status, msgType=msg_type, references=references), _settings())

    assert (message.alert, message.ignored) == (None, ignored)


def test_cap_translate_extreme_circle_and_unmapped_without_default() -> None:
    message = cap.translate(_message(), _settings())
    assert message.alert is not None
    assert (message.alert.severity, message.alert.category) == (1, "waterlogging")
    assert message.alert.location is not None and message.alert.location.lat == 28.15

    strict = CapGateway(categories={}, default_category=None)
    with pytest.raises(InvalidInput) as refused:
        cap.translate(_message(), strict)
    assert refused.value.field == "info.event"


# Hostile XML ---------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE alert [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>bomb-1</identifier><sender>x@example.cn</sender>
  <sent>2026-07-01T08:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Met</category><event>&lol9;</event><urgency>Immediate</urgency>
  <severity>Extreme</severity><certainty>Observed</certainty>
  <area><areaDesc>x</areaDesc><circle>28.15,112.1 1</circle></area></info>
</alert>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>xxe-1</identifier><sender>x@example.cn</sender>
  <sent>2026-07-01T08:00:00+08:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Met</category><event>Flood</event><urgency>Immediate</urgency>
  <severity>Extreme</severity><certainty>Observed</certainty><description>&secret;</description>
  <area><areaDesc>x</areaDesc><circle>28.15,112.1 1</circle></area></info>
</alert>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>dtd-1</identifier></alert>
"""

HOSTILE = {"billion-laughs": BILLION_LAUGHS, "external-entity": EXTERNAL_ENTITY, "external-dtd": EXTERNAL_DTD}


@pytest.mark.parametrize("raw", list(HOSTILE.values()), ids=list(HOSTILE))
def test_cap_translate_hostile_xml_is_refused_unexpanded(raw: bytes) -> None:
    with pytest.raises(cap_xml.ForbiddenXml):
        cap.translate(raw, _settings())


@pytest.mark.parametrize("raw", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_cap_post_hostile_xml_answers_400_and_stores_nothing(cap_server: Harness, raw: bytes) -> None:
    answer = await _post(cap_server, raw, expect=400)

    assert answer["error"]["code"] == "forbidden_xml"
    assert await _count(cap_server, alert_table) == 0
    assert await _count(cap_server, event_table) == 0


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"<alert", "application/xml", 400, "malformed_xml"),
        (b"", "text/xml", 400, "malformed_xml"),
        ("<alert>é</alert>".encode("latin-1"), "application/xml", 400, "malformed_xml"),
        (_fixture("a1_homeland_security_advisory.xml"), "application/json", 415, "unsupported_media_type"),
        (_message(identifier=""), "application/xml", 422, "invalid"),
    ],
    ids=["truncated", "empty", "not-utf8", "json-content-type", "no-identifier"],
)
async def test_cap_post_bad_message_is_refused(
    cap_server: Harness, raw: bytes, content_type: str, status: int, code: str
) -> None:
    answer = await _post(cap_server, raw, content_type=content_type, expect=status)

    assert answer["error"]["code"] == code
    assert await _count(cap_server, alert_table) == 0


def test_cap_errors_are_ours() -> None:
    assert issubclass(cap_xml.ForbiddenXml, DispatchError) and issubclass(cap_xml.MalformedXml, DispatchError)


# Over HTTP -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), APPENDIX_A, ids=[name for name, _ in APPENDIX_A])
async def test_cap_post_specification_example_keeps_the_xml_verbatim(
    cap_server: Harness, name: str, expected: dict[str, Any]
) -> None:
    raw = _fixture(name)

    answer = await _post(cap_server, raw, content_type="text/xml")

    TypeAdapter(CapResult).validate_python(answer, strict=True)
    assert answer["alert"]["duplicate"] is False and answer["ignored"] is None
    incident = await cap_server.incident(answer["alert"]["incident_id"])
    assert incident["category"] == expected["category"]
    assert incident["severity"] == expected["severity"]
    [alert] = incident["alerts"]
    assert (alert["kind"], alert["source"]) == ("cap", expected["source"])
    stored = await cap_server.runtime.read(
        lambda connection: connection.execute(sa.select(alert_table.c.raw)).scalar_one()
    )
    assert stored == raw.decode("utf-8")
    again = await _post(cap_server, raw)
    assert again["alert"] == {**answer["alert"], "duplicate": True}


async def test_cap_alert_update_cancel_one_incident_updated_then_cancelled(cap_server: Harness) -> None:
    first = await _post(cap_server, _fixture("yj_flood_alert.xml"))
    incident_id = first["alert"]["incident_id"]
    assert (await cap_server.incident(incident_id))["severity"] == 3

    update = await _post(cap_server, _fixture("yj_flood_update.xml"))

    assert update["msg_type"] == "Update"
    assert update["alert"]["incident_id"] == incident_id
    updated = await cap_server.incident(incident_id)
    assert (updated["severity"], updated["alert_count"], updated["state"]) == (2, 2, "dispatched")
    assert "incident_severity_raised" in [event["type"] for event in updated["timeline"]]

    cancel = await _post(cap_server, _fixture("yj_flood_cancel.xml"))

    TypeAdapter(CapResult).validate_python(cancel, strict=True)
    assert cancel["alert"] is None
    assert [(each["alert_id"], each["changed"]) for each in cancel["cancelled"]] == [
        (first["alert"]["alert_id"], True),
        (update["alert"]["alert_id"], True),
    ]
    assert cancel["cancelled"][-1]["incident_state"] == "cancelled"
    cancelled = await cap_server.incident(incident_id)
    assert cancelled["state"] == "cancelled"
    types = [event["type"] for event in cancelled["timeline"]]
    assert types.count("alert_cancelled") == 2 and "incident_cancelled" in types
    assert await _count(cap_server, incident_table) == 1


async def test_cap_cancel_of_the_update_alone_withdraws_what_it_superseded(cap_server: Harness) -> None:
    first = await _post(cap_server, _fixture("yj_flood_alert.xml"))
    await _post(cap_server, _fixture("yj_flood_update.xml"))
    cancel_update_only = _fixture("yj_flood_cancel.xml").replace(
        b"yuanjiang-met@example.cn,flood-1,2026-07-01T08:00:00+08:00 ", b""
    )

    answer = await _post(cap_server, cancel_update_only)

    assert len(answer["cancelled"]) == 2
    assert (await cap_server.incident(first["alert"]["incident_id"]))["state"] == "cancelled"


async def test_cap_post_test_message_is_acknowledged_and_ignored(cap_server: Harness) -> None:
    answer = await _post(cap_server, _message(status="Test"))

    assert answer == {
        "msg_type": "Alert",
        "identifier": "x-1",
        "alert": None,
        "cancelled": [],
        "ignored": "status Test",
        "ignored_references": [],
    }
    assert await _count(cap_server, alert_table) == 0


def test_cap_translate_degenerate_polygon_long_texts_cap_1_1_and_bare_geocode() -> None:
    line = b"<polygon>28.1,112.1 28.2,112.1 28.1,112.1 28.1,112.1</polygon>"
    raw = (
        _message()
        .replace(
            b"<circle>28.15,112.1 1.5</circle>",
            line + b"<geocode><valueName>X</valueName><value>v7</value></geocode>",
        )
        .replace(b"cap:1.2", b"cap:1.1")
        .replace(b"<event>Flood</event>", b"<event>Flood</event><headline>" + b"H" * 300 + b"</headline>")
    )
    settings = CapGateway(categories={"Met": "waterlogging"}, geocodes={"v7": "east"})

    message = cap.translate(raw, settings)

    assert message.alert is not None
    assert message.alert.location is not None
    position = (message.alert.location.lat, message.alert.location.lon)
    assert position == pytest.approx((28.1333, 112.1), abs=1e-4)  # the mean of its corners
    assert message.alert.jurisdiction == "east"
    assert message.alert.title is not None and len(message.alert.title) == cap_alert.TITLE_MAX
    assert message.alert.title.endswith("…")


def test_cap_translate_error_message_is_ignored() -> None:
    raw = _message(msgType="Error", references="met@example.cn,x-0,2026-07-01T07:00:00+08:00")

    message = cap.translate(raw, _settings())

    assert (message.message_type, message.ignored) == (cap.MessageType.ERROR, "msgType Error")


# A sender speaks only for itself -------------------------------------------------------------


async def _alert_row(server: Harness, alert_id: int) -> Any:
    return await server.runtime.read(
        lambda connection: connection.execute(
            sa.select(alert_table.c.cancelled_at, alert_table.c.attributes).where(
                alert_table.c.id == alert_id
            )
        ).one()
    )


async def test_cap_update_from_another_sender_supersedes_nothing_of_it(cap_server: Harness) -> None:
    first = await _post(cap_server, _fixture("yj_flood_alert.xml"))
    met = "yuanjiang-met@example.cn,flood-1,2026-07-01T08:00:00+08:00"
    update = _message(identifier="p-1", sender="prankster@evil.example", msgType="Update", references=met)

    answer = await _post(cap_server, update)

    TypeAdapter(CapResult).validate_python(answer, strict=True)
    assert answer["ignored_references"] == [
        {
            "sender": "yuanjiang-met@example.cn",
            "identifier": "flood-1",
            "sent": "2026-07-01T08:00:00+08:00",
            "reason": "other_sender",
        }
    ]
    assert "supersedes" not in (await _alert_row(cap_server, answer["alert"]["alert_id"])).attributes
    own = "prankster@evil.example,p-1,2026-07-01T08:00:00+08:00"
    cancel = await _post(
        cap_server,
        _message(identifier="p-2", sender="prankster@evil.example", msgType="Cancel", references=own),
    )
    assert [each["alert_id"] for each in cancel["cancelled"]] == [answer["alert"]["alert_id"]]
    assert (await _alert_row(cap_server, first["alert"]["alert_id"])).cancelled_at is None
    assert (await cap_server.incident(first["alert"]["incident_id"]))["state"] == "dispatched"


async def test_cap_cancel_never_follows_a_stored_supersedes_of_another_source(cap_server: Harness) -> None:
    # Stored before senders were held to their own messages: a CAP alert claiming a sensor's.
    sensor = await cap_server.post_alert(alert("s-1"))
    claim = alert(
        "p-1", source="prankster@evil.example", kind="cap", attributes={"supersedes": [["gauge-1", "s-1"]]}
    )
    claimed = await cap_server.post_alert(claim)
    own = "prankster@evil.example,p-1,2026-07-01T08:00:00+08:00"

    cancel = await _post(
        cap_server,
        _message(identifier="p-2", sender="prankster@evil.example", msgType="Cancel", references=own),
    )

    assert [each["alert_id"] for each in cancel["cancelled"]] == [claimed["alert_id"]]
    assert (await _alert_row(cap_server, sensor["alert_id"])).cancelled_at is None
    assert (await cap_server.incident(sensor["incident_id"]))["state"] == "dispatched"
