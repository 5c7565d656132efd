"""Request bodies: media type and content coding checked, the body decoded, within the size limit.

The server does not let aiohttp decompress bodies (`auto_decompress=False` in web/app.py): its
parser answers a body it cannot inflate with a text/plain 400 (or 500) and logs tracebacks.
Here a broken body is a JSON 400, an unknown coding a JSON 415, and an inflated body larger
than `intake.max_body_bytes` a 413, like a plain one.
"""

from __future__ import annotations

import zlib

from aiohttp import web

from dispatch.shared.errors import DispatchError
from web.errors import MAX_BODY

CODINGS = ("gzip", "deflate", "identity")
"""Content-Encoding values the server decodes, in the order the message names them."""


class UnsupportedMediaType(DispatchError):
    status = 415
    code = "unsupported_media_type"


class BadEncoding(DispatchError):
    """The body does not decode by the Content-Encoding it names."""

    status = 400
    code = "bad_encoding"


class BodyTooLarge(DispatchError):
    status = 413
    code = "too_large"


def is_json(request: web.Request) -> bool:
    """application/json, application/…+json, or no Content-Type at all (a bare device client)."""
    if "Content-Type" not in request.headers:
        return True
    media = request.content_type
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def require_json(request: web.Request) -> None:
    if not is_json(request):
        raise UnsupportedMediaType(
            f"send JSON with Content-Type: application/json, not {request.content_type!r}",
            field="Content-Type",
        )


async def read_body(request: web.Request) -> bytes:
    """The body as sent, decoded by its Content-Encoding (gzip, deflate; several in turn)."""
    codings = [
        each.strip().lower()
        for each in request.headers.get("Content-Encoding", "").split(",")
        if each.strip()
    ]
    unknown = [each for each in codings if each not in CODINGS]
    if unknown:
        raise UnsupportedMediaType(
            f"Content-Encoding {unknown[0]!r} is not supported; send gzip, deflate or none",
            field="Content-Encoding",
        )
    body = await request.read()
    limit = request.app[MAX_BODY]
    for coding in reversed(codings):  # the last coding named was applied last
        if coding != "identity":
            body = _inflate(body, coding, limit)
    return body


def _inflate(body: bytes, coding: str, limit: int) -> bytes:
    # HTTP's "deflate" is the zlib format, yet some senders send raw deflate: both are read.
    formats = (31,) if coding == "gzip" else (15, -15)
    for wbits in formats:
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(data) > limit:
            raise BodyTooLarge(f"request body is larger than {limit} bytes once decoded ({coding})")
        if inflater.eof and not inflater.unused_data:
            return data
    raise BadEncoding(f"the body is not valid {coding} data", field="Content-Encoding")
