"""Hotline calls (12345, 110/119/120 transfers): call-takers' entries and telephony events.

A call is one alert, `source` `hotline` and the call id its `source_event_id`, whichever of
the call-taker's entry and the telephony system's events arrives first; the later ones
rewrite it in place (`merge`, through dispatch/intake/calls.py). A caller who calls again
within the correlation window is the same alert too. Calls about one fire or flood (same
category, near in space and time) join one incident through ordinary correlation, so its
`alert_count` counts the callers. The caller's number and name travel only in `attributes`,
which only dispatchers read; `mask_number` is what anything else (logs, titles) may show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dispatch.config.model import Config
from dispatch.intake.alerts import AlertIn, AlertKind
from dispatch.intake.calls import Revision
from dispatch.intake.wire_limits import TimeWindow
from dispatch.shared.geo import Position

SOURCE = "hotline"
"""Every call's alert has this source, so a call's entry and its telephony events share a key."""

PhoneNumber = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 -]{2,31}$", description="Caller's number.")]
_DIGIT_RUN = re.compile(r"\+?\d[\d -]{6,}\d")


def mask_number(number: str) -> str:
    """138****1234: enough to tell callers apart, not enough to call them."""
    digits = re.sub(r"\D", "", number)
    if number.lstrip().startswith("+86"):
        digits = digits[2:]  # China's country code, so a mobile masks as dispatchers know it
    if len(digits) >= 8:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def same_number(one: str, other: str) -> bool:
    """One caller, however the number was written (spaces, dashes, +86)."""
    return _digits(one) == _digits(other)


def _digits(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return digits[2:] if number.lstrip().startswith("+86") else digits


def mask_numbers_in(text: str) -> str:
    return _DIGIT_RUN.sub(lambda match: mask_number(match.group()), text)


class _Call(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)

    call_id: str = Field(
        min_length=1,
        max_length=128,
        description="The call's id, the same in the entry and the telephony events: the idempotency key.",
    )
    caller_number: PhoneNumber


class CallEntry(_Call):
    """What a call-taker wrote down."""

    type: Literal["entry"] = Field(description="A call-taker's entry.")
    line: str = Field(
        "12345", pattern=r"^[0-9A-Za-z_-]{1,32}$", description="The line called: 12345, 110, 119, 120 …"
    )
    caller_name: str | None = Field(None, max_length=100, description="As the caller gave it.")
    address: str | None = Field(None, max_length=300, description="The place, as said.")
    location: Position | None = Field(None, description="The place, when the call-taker could pin it.")
    jurisdiction: str | None = Field(None, max_length=64, description="Jurisdiction id, without a point.")
    category: str = Field(min_length=1, max_length=64, description="A category of config.yaml.")
    severity: int | None = Field(None, ge=1, le=4, description="1 (I) … 4 (IV); default: the category's.")
    statement: str = Field(min_length=1, max_length=4000, description="What the caller said.")
    callback_wanted: bool = Field(False, description="The caller asked to be called back.")
    received_at: AwareDatetime | None = Field(
        None, strict=False, description="When the call came in; now if absent."
    )


class TelephonyEventType(StrEnum):
    CALL_STARTED = "call_started"
    CALL_ANSWERED = "call_answered"
    CALL_ENDED = "call_ended"


class TelephonyEvent(_Call):
    """What the telephony system reports of a call, with the network's cell position."""

    type: Literal[
        TelephonyEventType.CALL_STARTED, TelephonyEventType.CALL_ANSWERED, TelephonyEventType.CALL_ENDED
    ] = Field(description="call_started, call_answered or call_ended.")
    system: str = Field(pattern=r"^[0-9A-Za-z_.-]{1,64}$", description="The telephony system's id.")
    occurred_at: AwareDatetime = Field(strict=False, description="When it happened (RFC 3339).")
    cell_location: Position | None = Field(None, description="The serving cell's position.")
    cell_radius_m: float | None = Field(None, gt=0, le=100_000, description="Cell radius.")
    category: str | None = Field(
        None, min_length=1, max_length=64, description="From the voice menu; none: no alert."
    )


HotlineCall = Annotated[CallEntry | TelephonyEvent, Field(discriminator="type")]


def check_times(call: CallEntry | TelephonyEvent, window: TimeWindow) -> None:
    """InvalidInput naming the call's time when it lies outside the window."""
    if isinstance(call, CallEntry):
        if call.received_at is not None:
            window.check(call.received_at, "received_at")
    else:
        window.check(call.occurred_at, "occurred_at")


def speaker(call: CallEntry | TelephonyEvent) -> str:
    """Who sends the message, as a gateway token is bound to it: `hotline-LINE` or `telephony:SYSTEM`."""
    return f"hotline-{call.line}" if isinstance(call, CallEntry) else f"telephony:{call.system}"


def translate(call: CallEntry | TelephonyEvent, config: Config) -> AlertIn | None:
    """The alert a call stands for; None for a telephony event with no category yet. Pure."""
    if isinstance(call, CallEntry):
        return AlertIn(
            source=SOURCE,
            source_event_id=call.call_id,
            kind=AlertKind.HOTLINE,
            category=call.category,
            severity=call.severity,
            location=call.location,
            jurisdiction=call.jurisdiction,
            observed_at=call.received_at,
            title=entry_title(call, config),
            description=call.statement,
            attributes={
                "caller": {
                    "number": call.caller_number,
                    "name": call.caller_name,
                    "callback_wanted": call.callback_wanted,
                },
                "address": call.address,
                "line": call.line,
                "calls": [call.call_id],
                "entered": True,
            },
        )
    if call.category is None:
        return None
    return AlertIn(
        source=SOURCE,
        source_event_id=call.call_id,
        kind=AlertKind.HOTLINE,
        category=call.category,
        location=call.cell_location,
        observed_at=call.occurred_at,
        title=f"来电（{call.type.value}）",
        attributes={
            "caller": {"number": call.caller_number},
            "calls": [call.call_id],
            "entered": False,
            "telephony": telephony_state({}, call),
        },
    )


def entry_title(call: CallEntry, config: Config) -> str:
    category = config.category_by_id.get(call.category)
    what = category.name if category else call.category
    title = f"热线 {call.line}：{what}" + (f"，{call.address}" if call.address else "")
    return mask_numbers_in(title)[:200]


def telephony_state(before: Mapping[str, Any], event: TelephonyEvent) -> dict[str, Any]:
    """The telephony part of a call's attributes after `event`: its state and when each came.

    The state is the latest of the call's life (started → answered → ended), so events that
    arrive out of order never move a call back.
    """
    times = dict(before.get("times") or {}) if isinstance(before.get("times"), Mapping) else {}
    times.setdefault(event.type.value, event.occurred_at.isoformat())
    order = list(TelephonyEventType)
    reached = [each for each in order if each.value in times]
    return {
        "system": event.system,
        "state": reached[-1].value if reached else event.type.value,
        "times": {each.value: times[each.value] for each in reached},
        "cell_radius_m": event.cell_radius_m
        if event.cell_radius_m is not None
        else before.get("cell_radius_m"),
    }


WITHHELD: list[Any] = [None, None]
"""A change to what the caller said or who they are: named in `changes`, its values left out."""


def merge(
    stored: Mapping[str, Any],
    call: CallEntry | TelephonyEvent,
    entered: Mapping[str, Any] | None = None,
) -> Revision:
    """The stored alert of a call (or of the same caller's earlier call) after `call`. Pure.

    `entered` is the alert row's columns as the entry alone would write them (category,
    severity, place, title, description); only an entry has them. A call-taker's entry fills
    in what telephony cannot know; telephony events move the call's state. Nothing a caller
    said or who they are appears in `changes` (WITHHELD), which responders on the incident see
    on its timeline.
    """
    before = stored["attributes"] if isinstance(stored["attributes"], Mapping) else {}
    after: dict[str, Any] = dict(before)
    calls = [each for each in before.get("calls") or [stored["source_event_id"]] if isinstance(each, str)]
    if call.call_id not in calls:
        calls.append(call.call_id)
    after["calls"] = calls
    caller = dict(before.get("caller") or {}) if isinstance(before.get("caller"), Mapping) else {}
    columns: dict[str, Any] = {}
    if isinstance(call, CallEntry):
        assert entered is not None
        caller.update(number=call.caller_number, name=call.caller_name, callback_wanted=call.callback_wanted)
        after.update(address=call.address, line=call.line, entered=True)
        columns = dict(entered)
        statement = columns["description"]
        earlier = stored.get("description")
        # The same caller again, with more to say: both statements are kept, the newest last.
        if before.get("entered") and earlier and statement not in earlier:
            columns["description"] = f"{earlier}\n— {statement}"[:4000]
    else:
        caller.setdefault("number", call.caller_number)
        telephony = before.get("telephony") if isinstance(before.get("telephony"), Mapping) else {}
        after["telephony"] = telephony_state(telephony or {}, call)
    after["caller"] = caller
    changes: dict[str, list[Any]] = {}
    if len(calls) != len(before.get("calls") or [stored["source_event_id"]]):
        changes["calls"] = [len(calls) - 1, len(calls)]
    old_state = (
        (before.get("telephony") or {}).get("state") if isinstance(before.get("telephony"), Mapping) else None
    )
    new_state = (after.get("telephony") or {}).get("state")
    if new_state != old_state:
        changes["call_state"] = [old_state, new_state]
    if bool(before.get("entered")) != bool(after.get("entered")):
        changes["entered"] = [bool(before.get("entered")), True]
    for name, value in columns.items():
        if stored.get(name) != value:
            changes[name] = WITHHELD if name == "description" else [stored.get(name), value]
    if after == before and not changes:
        return Revision(dict(before), {}, {})
    if after.get("caller") != before.get("caller") or after.get("address") != before.get("address"):
        changes["caller"] = WITHHELD
    return Revision(after, {k: v for k, v in columns.items() if stored.get(k) != v}, changes)
