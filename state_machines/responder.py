"""A responder's availability: the statuses a unit moves between (no transition table)."""

from __future__ import annotations

from enum import StrEnum


class ResponderStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    OFF_DUTY = "off_duty"
