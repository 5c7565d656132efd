"""What a sender may write: times within reason, free-form values shallow and small.

A time before 2000 or far ahead of the server's clock is a broken device clock or a prank;
one past year 9999 in UTC cannot even be read back. A free-form value (an alert's
`attributes`, Frigate's `sub_label`, a CAP message's parameters) nested deeper than the JSON
library can write, or large enough to crowd out the rest of a row, is refused the same way:
422 naming the field, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import orjson
from pydantic import AfterValidator, BaseModel, model_validator

from dispatch.shared.clock import to_rfc3339
from dispatch.shared.errors import InvalidInput

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EARLIEST_EPOCH = EARLIEST.timestamp()

FORECAST_HORIZON = 366 * 86400.0
"""How far ahead a forecast time (a CAP warning's onset or expiry, a firing Alertmanager alert's
endsAt) may lie: these look ahead by nature, so the clock skew bound would refuse real ones."""

MAX_DEPTH = 16
"""Levels a free-form value may nest (a scalar is 0, `{"a": 1}` is 1); orjson writes at most 254."""
MAX_BYTES = 16 * 1024
"""Bytes of a free-form value written as compact JSON."""


@dataclass(frozen=True)
class TimeWindow:
    """When a sender's times may lie: from 2000 to `max_future_skew` ahead of the server's now."""

    now: float
    max_future_skew: float

    def check(self, moment: datetime, field: str, *, forecast: bool = False) -> None:
        """InvalidInput naming `field` when `moment` (aware) lies outside the window.

        `forecast`: a time that looks ahead by nature, allowed up to FORECAST_HORIZON ahead.
        """
        epoch = moment.timestamp()
        shown = moment.isoformat()
        if epoch < EARLIEST_EPOCH:
            raise InvalidInput(f"{field}: {shown} is before 2000-01-01T00:00:00Z", field=field)
        ahead = FORECAST_HORIZON if forecast else self.max_future_skew
        if epoch > self.now + ahead:
            clock = f"the server's clock ({to_rfc3339(self.now)})"
            raise InvalidInput(
                f"{field}: {shown} is more than {ahead:g} s ahead of {clock}"
                + ("" if forecast else "; check the sender's clock"),
                field=field,
            )


def depth(value: Any) -> int:
    """How deep containers nest in a JSON value; not recursive, so any depth is measured."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        pending.extend((child, level) for child in children)
    return deepest


def check_free_form(
    value: Any, field: str, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES
) -> None:
    """InvalidInput naming `field` when `value` nests deeper than `max_depth` or is too large."""
    levels = depth(value)
    if levels > max_depth:
        raise InvalidInput(f"{field}: nested {levels} levels deep; at most {max_depth}", field=field)
    size = len(orjson.dumps(value))
    if size > max_bytes:
        raise InvalidInput(f"{field}: {size} bytes as JSON; at most {max_bytes}", field=field)


def free_form(max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> AfterValidator:
    """A pydantic validator for a free-form field: the 422 names the field."""

    def check(value: Any) -> Any:
        _limit(value, max_depth, max_bytes)
        return value

    return AfterValidator(check)


def _limit(value: Any, max_depth: int, max_bytes: int) -> None:
    levels = depth(value)
    if levels > max_depth:
        raise ValueError(f"nested {levels} levels deep; at most {max_depth}")
    size = len(orjson.dumps(value))
    if size > max_bytes:
        raise ValueError(f"{size} bytes as JSON; at most {max_bytes}")


class ShallowExtras(BaseModel):
    """A foreign format whose unknown fields are kept (and stored verbatim): none may nest deeper
    than MAX_DEPTH, or the stored message could not be written back as JSON."""

    @model_validator(mode="after")
    def _shallow_extras(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            levels = depth(value)
            if levels > MAX_DEPTH:
                raise ValueError(f"field {key!r} is nested {levels} levels deep; at most {MAX_DEPTH}")
        return self
