"""Hotline messages handed to the dispatch service as call messages (dispatch/intake/calls.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from dispatch.intake.alerts import AlertIn
from dispatch.intake.calls import CallOutcome, Revision, StoredCall
from dispatch.service import DispatchService
from gateways import hotline


@dataclass(frozen=True)
class HotlineMessage:
    """A call-taker's entry or a telephony event, with the alert it stands for (a CallMessage)."""

    call: hotline.CallEntry | hotline.TelephonyEvent
    alert: AlertIn | None
    source: str = hotline.SOURCE

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def entry(self) -> bool:
        return isinstance(self.call, hotline.CallEntry)

    def joined(self, stored: StoredCall) -> bool:
        return self.call.call_id in (stored["attributes"].get("calls") or ())

    def same_caller(self, stored: StoredCall) -> bool:
        caller = stored["attributes"].get("caller") or {}
        number = caller.get("number") if isinstance(caller, dict) else None
        return isinstance(number, str) and hotline.same_number(number, self.call.caller_number)

    def merge(self, stored: StoredCall, entered: Mapping[str, Any] | None) -> Revision:
        return hotline.merge(stored, self.call, entered)


class HotlineIntake:
    """What the hotline route asks: one call message translated and taken by the service."""

    def __init__(self, service: DispatchService) -> None:
        self.service = service

    async def take(
        self,
        call: hotline.CallEntry | hotline.TelephonyEvent,
        raw: Any,
        *,
        actor: str,
        causation_id: str | None = None,
    ) -> CallOutcome:
        message = HotlineMessage(call, hotline.translate(call, self.service.config))
        return await self.service.take_call(
            message, orjson.dumps(raw).decode(), actor=actor, causation_id=causation_id
        )
