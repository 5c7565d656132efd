"""Hotline calls (12345, 110/119/120 transfers): call-takers' entries and telephony events.

A call is one alert: `source` is the line (`hotline-12345`) or the telephony system, and the
call id its `source_event_id`. Calls about one fire or flood (same category, near in space
and time) join one incident through ordinary correlation, so its `alert_count` counts the
callers. The caller's number and name travel only in `attributes`, which only dispatchers
read; `mask_number` is what anything else (logs, titles) may show.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dispatch.alerts import AlertIn, AlertKind
from dispatch.config import Config
from dispatch.geo import Position
from dispatch.wire_limits import TimeWindow

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


def mask_numbers_in(text: str) -> str:
    return _DIGIT_RUN.sub(lambda match: mask_number(match.group()), text)


class _Call(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)

    call_id: str = Field(min_length=1, max_length=128, description="The call's id: the idempotency key.")
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


def translate(call: CallEntry | TelephonyEvent, config: Config) -> AlertIn | None:
    """The alert a call stands for; None for a telephony event with no category yet. Pure."""
    if isinstance(call, CallEntry):
        category = config.category_by_id.get(call.category)
        what = category.name if category else call.category
        title = f"热线 {call.line}：{what}" + (f"，{call.address}" if call.address else "")
        return AlertIn(
            source=f"hotline-{call.line}",
            source_event_id=call.call_id,
            kind=AlertKind.HOTLINE,
            category=call.category,
            severity=call.severity,
            location=call.location,
            jurisdiction=call.jurisdiction,
            observed_at=call.received_at,
            title=mask_numbers_in(title)[:200],
            description=call.statement,
            attributes={
                "caller": {
                    "number": call.caller_number,
                    "name": call.caller_name,
                    "callback_wanted": call.callback_wanted,
                },
                "address": call.address,
                "line": call.line,
            },
        )
    if call.category is None:
        return None
    return AlertIn(
        source=f"telephony:{call.system}",
        source_event_id=call.call_id,
        kind=AlertKind.HOTLINE,
        category=call.category,
        location=call.cell_location,
        observed_at=call.occurred_at,
        title=f"来电（{call.type.value}）",
        attributes={
            "caller": {"number": call.caller_number},
            "cell_radius_m": call.cell_radius_m,
            "telephony_event": call.type.value,
        },
    )
