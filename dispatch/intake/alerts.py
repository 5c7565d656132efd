"""The normalized alert: what every gateway produces and `POST /api/v1/alerts` accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from dispatch.intake.wire_limits import MAX_BYTES, MAX_DEPTH, free_form
from dispatch.shared.errors import InvalidInput
from dispatch.shared.geo import Position
from dispatch.storage.records import AlertKind as AlertKind  # part of the wire shape; stored as alert.kind


def _int_as_text(value: Any) -> Any:
    # Many devices number their events; the key is compared as text either way.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class AlertIn(BaseModel):
    """One alert as a sender writes it (its fields: README, HTTP API)."""

    # strict: a number is a JSON number, a flag a JSON boolean ("2" and true are not severities);
    # times and enumerations are text on the wire, so those fields read text.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)

    source: str = Field(min_length=1, max_length=128, description="Gateway or device id.")
    source_event_id: Annotated[str, BeforeValidator(_int_as_text)] = Field(
        min_length=1, max_length=256, description="The sender's own event id: the idempotency key."
    )
    kind: AlertKind = Field(strict=False, description="sensor, video, hotline, cap, monitoring or manual.")
    category: str = Field(min_length=1, max_length=64, description="A category of config.yaml.")
    severity: int | None = Field(
        None, ge=1, le=4, description="1 (I, most severe) … 4 (IV); the category's default if absent."
    )
    location: Position | None = Field(None, description="Where it happened.")
    jurisdiction: str | None = Field(
        None, max_length=64, description="Jurisdiction id, when no position is known."
    )
    observed_at: datetime | None = Field(
        None, strict=False, description="RFC 3339; the receive time if absent."
    )
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    attributes: Annotated[dict[str, Any], free_form()] = Field(
        default_factory=dict,
        description=f"Anything else, kept as is (≤ {MAX_DEPTH} levels deep, ≤ {MAX_BYTES} bytes of JSON).",
    )

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("observed_at needs a UTC offset (RFC 3339), e.g. 2026-07-01T08:00:00Z")
        return value


class AlertBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    alerts: list[AlertIn] = Field(min_length=1, description="One or more alerts.")


def refuse_nul(data: Any) -> None:
    """InvalidInput naming a field whose text (or key) holds a NUL character."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:  # not recursive: JSON may nest deeper than Python's recursion limit
        value, path = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput(f"{path or 'body'}: text may not contain NUL (\\u0000)", field=path or None)
        if isinstance(value, dict):
            pending.extend((key, path) for key in value)
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            continue
        pending.extend((item, f"{path}.{key}" if path else str(key)) for key, item in items)
