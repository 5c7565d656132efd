"""Our own small error hierarchy and the one error body every transport sends for it."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict


@with_config(ConfigDict(extra="forbid"))
class ErrorDetail(TypedDict):
    """What went wrong: in an HTTP answer, a WebSocket frame or an MQTT result."""

    code: Annotated[
        str, Field(description="Stable machine-readable code: invalid, not_found, illegal_transition …")
    ]
    message: Annotated[str, Field(description="What is wrong, for a person.")]
    field: Annotated[str | None, Field(description="The field at fault, as a dotted path.")]
    state: NotRequired[Annotated[str, Field(description="illegal_transition: the current state.")]]
    allowed: NotRequired[
        Annotated[list[str], Field(description="illegal_transition: the triggers allowed now.")]
    ]
    retry_after: NotRequired[
        Annotated[int, Field(description="too_many_attempts: seconds to wait (also the Retry-After header).")]
    ]
    database: NotRequired[
        Annotated[Literal["unreachable", "failing"], Field(description="not_ready: what the database does.")]
    ]
    unreachable_since: NotRequired[
        Annotated[
            str | None, Field(description="not_ready: since when (RFC 3339) the database does not answer.")
        ]
    ]


def error_body(code: str, message: str, field: str | None = None) -> ErrorDetail:
    """`{"code", "message", "field"}`; a refusal that says more adds its own keys of ErrorDetail."""
    return {"code": code, "message": message, "field": field}


class DispatchError(Exception):
    """An expected refusal: the writer does not log it as a failure."""

    expected = True
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> ErrorDetail:
        """This refusal as the error body of every transport."""
        return error_body(self.code, self.message, self.field)


class InvalidInput(DispatchError):
    status = 422
    code = "invalid"


class MalformedBody(DispatchError):
    """The body is not JSON at all (or missing): nothing could be read, no field to name."""

    status = 400
    code = "malformed_json"


class NotFound(DispatchError):
    status = 404
    code = "not_found"


class Forbidden(DispatchError):
    status = 403
    code = "forbidden"


class IllegalTransition(DispatchError):
    status = 409
    code = "illegal_transition"

    def __init__(self, message: str, *, state: str, allowed: list[str]) -> None:
        super().__init__(message, field="trigger")
        self.state = state
        self.allowed = allowed

    def body(self) -> ErrorDetail:
        body = error_body(self.code, self.message, self.field)
        body["state"] = self.state
        body["allowed"] = self.allowed
        return body

    def only(self, callable_by_caller: frozenset[str]) -> IllegalTransition:
        """The same refusal, listing only the triggers this caller may send."""
        allowed = [each for each in self.allowed if each in callable_by_caller]
        return IllegalTransition(self.message, state=self.state, allowed=allowed)


class DepartmentPartOpen(DispatchError):
    """Resolve refused: a co-handling department's part is still open and the policy waits for it."""

    status = 409
    code = "department_part_open"


class DatabaseUnavailable(Exception):
    """The database does not answer: nothing was written; the caller may retry after a while.

    Not a DispatchError on purpose: it refuses nothing about the request, and a transport
    must not treat it as a final answer (MQTT leaves the message unacknowledged).
    """

    status = 503
    code = "database_unavailable"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class CoreUnavailable(DatabaseUnavailable):
    """A front of `serve --workers N` cannot reach its core process: nothing was written."""

    code = "core_unavailable"


class NotLinked(DispatchError):
    """The incident did not come from a county over the prefecture link: there is nobody to instruct."""

    status = 409
    code = "not_linked"
