"""Every error leaves as `{"error": {"code", "message", "field"}}` with a 4xx (or a logged 5xx)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from aiohttp import web
from pydantic import ConfigDict, ValidationError, with_config
from typing_extensions import TypedDict

from dispatch.shared.errors import DatabaseUnavailable, DispatchError, ErrorDetail, error_body

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
}


@with_config(ConfigDict(extra="forbid"))
class ErrorBody(TypedDict):
    """Every 4xx (and 503) answer."""

    error: ErrorDetail


def json_response(body: Mapping[str, object], status: int = 200) -> web.Response:
    """`body` written as it is: a mapping, so a handler passes the typed dict its `@operation`
    documents (mypy checks its keys), never a second shape serialized on the way."""
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def error_json(status: int, detail: ErrorDetail) -> web.Response:
    """An error whose detail says more than code, message and field (retry_after, database …)."""
    body: ErrorBody = {"error": detail}
    return json_response(body, status)


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return error_json(status, error_body(code, message, field))


def validation_error(err: ValidationError, prefix: str = "") -> web.Response:
    first = err.errors()[0]
    field = prefix + ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "this field is required"
    return error_response(422, "invalid", f"{field}: {message}" if field else message, field or None)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DispatchError as err:
        return error_json(err.status, err.body())
    except DatabaseUnavailable as err:  # logged once per outage where it was noticed
        response = error_response(err.status, err.code, err.message)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    except ValidationError as err:
        return validation_error(err)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        message = err.text if err.text and err.text != err.reason else err.reason
        if err.status == 413:
            message = f"request body is larger than {request.app[MAX_BODY]} bytes"
        response = error_response(err.status, _CODES.get(err.status, "error"), message or err.reason)
        for header in ("Allow", "WWW-Authenticate"):
            if header in err.headers:
                response.headers[header] = err.headers[header]
        return response
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; it has been logged")


MAX_BODY = web.AppKey("max_body", int)
