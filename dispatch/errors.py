"""Our own small error hierarchy; the web layer turns each into one HTTP status."""

from __future__ import annotations


class DispatchError(Exception):
    """An expected refusal: the writer does not log it as a failure."""

    expected = True
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DispatchError):
    status = 422
    code = "invalid"


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
