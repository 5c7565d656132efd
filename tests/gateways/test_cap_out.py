"""CAP 1.2 written for the prefecture: read back by our own CAP intake, field by field."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from dispatch.config.model import CapGateway
from dispatch.core.upstream import MessageType, Reference, UpstreamMessage
from gateways.cap import MessageType as ReadType
from gateways.cap import translate
from gateways.cap_out import render

SHANGHAI = ZoneInfo("Asia/Shanghai")
SENT = 1_790_000_000.4


def _message(message_type: MessageType, references: list[Reference]) -> UpstreamMessage:
    return UpstreamMessage(
        message_type=message_type,
        sender="yuanjiang",
        identifier="yuanjiang.7.12",
        sent=SENT,
        addresses="yiyang",
        incident_id=7,
        references=references,
        category="embankment",
        category_name="堤防险情",
        severity=2,
        headline="南嘴镇堤防管涌 & <渗水>",
        description="沅江市 事件 #7",
        state="dispatched",
        owner_tier="town",
        owner="nanzui",
        change="incident_escalated",
        area="南嘴镇",
        lat=28.8412345,
        lon=112.3554321,
    )


def test_cap_out_update_reads_back_as_sent() -> None:
    earlier = [Reference("yuanjiang", "yuanjiang.7.3", SENT - 60)]
    raw = render(_message(MessageType.UPDATE, earlier), SHANGHAI).encode()

    read = translate(raw, CapGateway(categories={"堤防险情": "embankment"}))

    assert (read.message_type, read.sender, read.identifier) == (
        ReadType.UPDATE,
        "yuanjiang",
        "yuanjiang.7.12",
    )
    assert [(r.sender, r.identifier, r.sent) for r in read.references] == [
        ("yuanjiang", "yuanjiang.7.3", "2026-09-21T22:12:20+08:00")
    ]
    assert read.alert is not None
    assert (read.alert.category, read.alert.severity) == ("embankment", 2)
    assert read.alert.title == "南嘴镇堤防管涌 & <渗水>"
    assert read.alert.location is not None
    assert (
        abs(read.alert.location.lat - 28.8412345) < 1e-6 and abs(read.alert.location.lon - 112.3554321) < 1e-6
    )
    cap = read.alert.attributes["cap"]
    assert cap["incidents"] == "7" and cap["scope"] == "Private"
    info = cap["info"][0]
    assert info["language"] == "zh-CN"
    assert ["dispatch:category", "embankment"] in info["event_codes"]
    assert ["dispatch:change", "incident_escalated"] in info["parameters"]
    assert ["dispatch:owner", "nanzui"] in info["parameters"]


def test_cap_out_times_carry_a_numeric_offset_never_z() -> None:
    raw = render(_message(MessageType.ALERT, []), SHANGHAI)

    assert "<sent>2026-09-21T22:13:20+08:00</sent>" in raw
    assert "<references>" not in raw
    assert render(_message(MessageType.ALERT, []), ZoneInfo("UTC")).count("+00:00</sent>") == 1


def test_cap_out_elements_follow_the_schema_order() -> None:
    raw = render(_message(MessageType.CANCEL, [Reference("yuanjiang", "yuanjiang.7.3", SENT)]), SHANGHAI)

    tags = re.findall(r"<(\w+)[ >]", raw.split("<info>")[0])
    assert tags == [
        "alert",
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "scope",
        "addresses",
        "references",
        "incidents",
    ]
    info = re.findall(r"<(\w+)>", raw.split("<info>")[1])
    order = ["language", "category", "event", "urgency", "severity", "certainty", "eventCode"]
    order += ["senderName", "headline", "description", "parameter", "area"]
    assert [tag for tag in info if tag in order] == sorted(
        [tag for tag in info if tag in order], key=order.index
    )
