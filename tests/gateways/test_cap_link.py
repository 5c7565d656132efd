"""A county's CAP message as the prefecture link reads it: its incident, category, state and change."""

from __future__ import annotations

import pytest

from dispatch.shared.clock import ManualClock
from dispatch.shared.errors import InvalidInput
from gateways import cap_link
from tests.link_servers import cap, prefecture_config


def test_cap_link_translate_reads_the_county_incident_state_and_change() -> None:
    raw = cap(
        "city.7.3", 7, clock=ManualClock(), msg_type="Update", references=["city.7.1"], state="on_scene"
    )

    message, county = cap_link.translate(raw, prefecture_config())

    assert county is not None and county.alert is not None
    assert (county.sender, county.identifier, county.msg_type) == ("city", "city.7.3", "Update")
    assert (county.county_incident_id, county.county_state, county.change) == (
        "7",
        "on_scene",
        "incident_reported",
    )
    assert county.alert.category == "waterlogging" and county.alert.severity == 2
    assert message.sent is not None and county.sent_at == message.sent.isoformat()


@pytest.mark.parametrize(
    ("category", "cap_settings", "expected"),
    [
        ("vending", {}, "vending"),  # the county's own category id, known here
        ("landslide", {"categories": {"内涝": "waterlogging"}}, "waterlogging"),  # unknown here: the mapping
    ],
    ids=["known-event-code", "mapped-event"],
)
def test_cap_link_translate_category(category: str, cap_settings: dict[str, object], expected: str) -> None:
    config = prefecture_config(cap=cap_settings) if cap_settings else prefecture_config()

    _, county = cap_link.translate(cap("city.7.1", 7, clock=ManualClock(), category=category), config)

    assert county is not None and county.alert is not None and county.alert.category == expected


def test_cap_link_translate_cancel_carries_no_alert() -> None:
    raw = cap(
        "city.7.2", 7, clock=ManualClock(), msg_type="Cancel", references=["city.7.1"], state="cancelled"
    )

    _, county = cap_link.translate(raw, prefecture_config())

    assert county is not None and (county.msg_type, county.alert, county.county_state) == (
        "Cancel",
        None,
        "cancelled",
    )


def test_cap_link_translate_a_test_message_asks_nothing() -> None:
    raw = cap("city.7.1", 7, clock=ManualClock()).replace(
        b"<status>Actual</status>", b"<status>Test</status>"
    )

    message, county = cap_link.translate(raw, prefecture_config())

    assert county is None and message.ignored == "status Test"


@pytest.mark.parametrize("incidents", [b"", b"<incidents>7 8</incidents>"], ids=["none", "two"])
def test_cap_link_translate_needs_exactly_one_county_incident(incidents: bytes) -> None:
    raw = cap("city.7.1", 7, clock=ManualClock()).replace(b"<incidents>7</incidents>", incidents)

    with pytest.raises(InvalidInput) as refused:
        cap_link.translate(raw, prefecture_config())

    assert refused.value.field == "incidents"
