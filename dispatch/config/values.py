"""Value types of config.yaml shared by its sections: tiers, severities, durations, ids."""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


class Tier(StrEnum):
    """The three tiers of the vertical linkage, top first."""

    CITY = "city"
    TOWN = "town"
    STREET = "street"

    @property
    def depth(self) -> int:
        return TIER_ORDER.index(self)

    def above(self) -> Tier | None:
        return TIER_ORDER[self.depth - 1] if self.depth > 0 else None

    def below(self) -> Tier | None:
        return TIER_ORDER[self.depth + 1] if self.depth + 1 < len(TIER_ORDER) else None


TIER_ORDER: tuple[Tier, ...] = (Tier.CITY, Tier.TOWN, Tier.STREET)


class Severity(IntEnum):
    """Incident grading: I (特别重大) is the most severe, IV (一般) the least."""

    I = 1  # noqa: E741 - the official grade names
    II = 2
    III = 3
    IV = 4


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"not a duration: {value!r} (use e.g. 60s, 2m, 1h, 30d)")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


def parse_duration(text: str) -> float:
    """`90`, `90s`, `2m`, `1h` or `30d` in seconds, as config.yaml writes durations."""
    seconds: float = _parse_duration(text)
    return seconds


Seconds = Annotated[float, BeforeValidator(_parse_duration), Field(gt=0)]
"""A duration in seconds; config.yaml may write it as 90, 90s, 2m, 1h or 30d."""

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
