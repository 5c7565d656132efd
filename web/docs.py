"""`GET /api/openapi.json` and the browsable page `GET /api/docs`, open to anyone.

The page is Swagger UI from the `swagger-ui-bundle-v2` wheel, served from its own files:
some deployments reach no CDN. URLs in it are relative, so a reverse proxy may mount the
API under any prefix.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from web.keys import RUNTIME
from web.openapi import Media, build, operation

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
ASSETS_PREFIX = "/api/docs/assets"

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>dispatch — HTTP API</title>
    <link rel="stylesheet" href="docs/assets/swagger-ui.css">
    <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/assets/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script>
      window.ui = SwaggerUIBundle({
        url: "openapi.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
      });
    </script>
  </body>
</html>
"""


class DocumentCache:
    """The document, built on first request: routes and config are fixed by then."""

    def __init__(self) -> None:
        self.body: bytes | None = None


DOCUMENT = web.AppKey("openapi_document", DocumentCache)


@operation(
    "This document",
    tag="docs",
    description="OpenAPI 3.1 of this API, generated from the models the handlers validate with.",
    responses={200: Media("application/json", {"type": "object"})},
)
async def openapi_json(request: web.Request) -> web.Response:
    cache = request.app[DOCUMENT]
    if cache.body is None:
        cache.body = orjson.dumps(build(request.app, request.app[RUNTIME].config))
    return web.Response(body=cache.body, content_type="application/json")


@operation(
    "Browsable documentation",
    tag="docs",
    description="Swagger UI over this document, served from the package's own files.",
    responses={200: Media("text/html", {"type": "string"})},
)
async def docs_page(_request: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE, content_type="text/html")


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = DocumentCache()
    app.router.add_get(OPENAPI_PATH, openapi_json)
    app.router.add_get(DOCS_PATH, docs_page)
    app.router.add_static(ASSETS_PREFIX, Path(str(swagger_ui_path)))
