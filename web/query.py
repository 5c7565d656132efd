"""Query strings: the pydantic models that document them are the ones that parse them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from dispatch.config.model import Tier
from dispatch.storage.queries import MAX_SUGGESTIONS
from dispatch.storage.wire import MAX_LIMIT
from state_machines import IncidentState

MAX_ID = 2**63 - 1  # ids and sequence numbers are 64-bit (BIGINT on PostgreSQL)
EVENTS_MAX_LIMIT = 5000
EXAMPLE_TIME = "2026-07-01T00:00:00+08:00"


def _rfc3339(value: object) -> object:
    """An RFC 3339 time with its UTC offset; `Z` is UTC. Other values are left to pydantic."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise ValueError(f"must be an RFC 3339 time, e.g. {EXAMPLE_TIME}") from err
    if parsed.tzinfo is None:
        raise ValueError(f"needs a UTC offset, e.g. {EXAMPLE_TIME}")
    try:  # 9999-12-31T23:59:59-23:59 parses, yet lies past the last day UTC can name
        parsed.astimezone(UTC).timestamp()
    except (OverflowError, OSError, ValueError) as err:
        raise ValueError(f"is out of range: {value!r}") from err
    return parsed


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]
"""A time parameter: RFC 3339 with an offset (a time without one is refused, never guessed)."""


class Query(BaseModel):
    """A query string: each field is one optional parameter."""

    model_config = ConfigDict(extra="forbid")


Q = TypeVar("Q", bound=Query)


def parse_query(request: web.Request, model: type[Q]) -> Q:
    """The request's query string as `model`; a bad value is a 422 naming the parameter (web/errors.py).

    Parameters the model does not know are ignored, as they always were (a cache-buster, say);
    a repeated one counts once, its first value.
    """
    values = {name: request.query[name] for name in model.model_fields if name in request.query}
    return model.model_validate(values)


_STATES = "|".join(state.value for state in IncidentState)


def _known_states(value: str) -> str:
    """Names the state it does not know, where a pattern's message would only quote itself."""
    for each in value.split(","):
        if each not in IncidentState.__members__.values():
            raise ValueError(f"unknown state {each!r}")
    return value


class IncidentQuery(Query):
    state: Annotated[str, AfterValidator(_known_states)] | None = Field(
        None,
        json_schema_extra={"pattern": rf"^({_STATES})(,({_STATES}))*$"},
        description="One state or a comma-separated list of states.",
    )
    tier: Tier | None = Field(None, description="The owner's tier.")
    jurisdiction: str | None = Field(None, description="Located in or owned by this subtree.")
    category: str | None = Field(None, description="A category of config.yaml.")
    severity: int | None = Field(None, ge=1, le=4, description="At most this severity number (1 is I).")
    since: Rfc3339 | None = Field(None, description="Created at or after (RFC 3339 with offset).")
    until: Rfc3339 | None = Field(None, description="Created before (RFC 3339 with offset).")
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="Page size.")
    offset: int = Field(0, ge=0, le=MAX_ID, description="Skip this many.")

    def states(self) -> tuple[str, ...]:
        return tuple(each for each in (self.state or "").split(",") if each)


class EventQuery(Query):
    after: int = Field(0, ge=-MAX_ID, le=MAX_ID, description="Events with a greater sequence number.")
    limit: int = Field(500, ge=1, le=EVENTS_MAX_LIMIT, description="At most this many.")


class SuggestionQuery(Query):
    limit: int = Field(10, ge=1, le=MAX_SUGGESTIONS, description="At most this many responders.")
