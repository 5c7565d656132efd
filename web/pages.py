"""The people's pages: login, dispatcher console, responder tablet app, big screen, their files.

Pages are shells without data, served to anyone; their scripts read the API, which checks
who asks. Everything they load comes from this server: our own files under /static, and
Leaflet from the `xstatic-leaflet` wheel. Nothing is fetched from the internet.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import xstatic.pkg.leaflet
from aiohttp import web

from dispatch.config.model import Config
from web import i18n
from web.keys import RUNTIME
from web.openapi import Media, PathParameter, operation

STATIC = Path(__file__).parent / "static"
LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)
HTML = Media("text/html", {"type": "string"})


@dataclass(frozen=True)
class PageFile:
    """One of the people's pages (or a file the browser must find at a path of its own)."""

    path: str
    file: str
    summary: str
    description: str
    media: Media = HTML
    headers: Mapping[str, str] = field(default_factory=dict)


PAGES = (
    PageFile("/", "login.html", "Login page", "The people's way in; every role lands on its screen."),
    PageFile(
        "/console/",
        "console/index.html",
        "Dispatcher console",
        "Queue, map and incident detail for dispatchers (session of a dispatcher or admin).",
    ),
    PageFile(
        "/console/report",
        "console/report.html",
        "Printable incident report",
        "`?id=N`: the after-action report of one incident (timeline, tasks, times), for printing.",
    ),
    PageFile(
        "/tablet/",
        "tablet/index.html",
        "Responder tablet app",
        "Installable web app: tasks ring until acknowledged; actions taken offline are queued.",
    ),
    PageFile(
        "/tablet/sw.js",
        "tablet/sw.js",
        "Tablet app's service worker",
        "Keeps the app shell for offline use; its scope is /tablet/.",
        Media("text/javascript", {"type": "string"}),
        {"Service-Worker-Allowed": "/tablet/"},
    ),
    PageFile(
        "/tablet/manifest.webmanifest",
        "tablet/manifest.webmanifest",
        "Tablet app's manifest",
        "Web app manifest: installable on a tablet's home screen.",
        Media("application/manifest+json", {"type": "object"}),
    ),
    PageFile(
        "/screen/",
        "screen/index.html",
        "Command-hall big screen",
        "The city map and today's figures; `?kiosk=1` for a wall that needs no clicks.",
    ),
)
HTML_PATHS = frozenset(page.path for page in PAGES if page.media is HTML)


def content_security_policy(config: Config) -> str:
    """Only our own origin, plus the configured tile server's for map images."""
    images = ["'self'", "data:", "blob:"]
    tile_url = config.map.tile_url
    if tile_url is not None and not tile_url.startswith("/"):
        parts = urlsplit(tile_url)
        images.append(f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}")  # {s}: Leaflet's subdomains
    return "; ".join(
        [
            "default-src 'self'",
            f"img-src {' '.join(images)}",
            "style-src 'self' 'unsafe-inline'",
            "script-src 'self'",
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def _serve(page: PageFile) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The page's handler; its file is read once (a new release restarts the server)."""
    body = (STATIC / page.file).read_bytes()
    content_type = page.media.content_type
    charset = None if content_type.endswith("json") else "utf-8"

    @operation(page.summary, tag="screens", description=page.description, responses={200: page.media})
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type=content_type,
            charset=charset,
            headers={"Cache-Control": "no-cache", **page.headers},
        )

    return serve


@operation(
    "The screens' words",
    tag="screens",
    description="Every label, state, tier, trigger, event type and error code in one language.",
    path={"language": PathParameter("zh-CN or en.", values=lambda: i18n.LANGUAGES)},
    responses={
        200: Media("application/json", {"type": "object", "additionalProperties": {"type": "string"}})
    },
    errors=[404],
)
async def words(request: web.Request) -> web.Response:
    language = request.match_info["language"]
    if language not in i18n.LANGUAGES:
        raise web.HTTPNotFound(text=f"no language {language!r}; use {' or '.join(i18n.LANGUAGES)}")
    return web.Response(
        body=orjson.dumps(i18n.table(language)),
        content_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """Browsers revalidate our files (an update reaches every screen); pages get a strict CSP."""
    if request.path.startswith("/static/") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-cache"
    if request.path in HTML_PATHS:
        response.headers["Content-Security-Policy"] = request.app[CSP]
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


CSP = web.AppKey("content_security_policy", str)


def add_routes(app: web.Application) -> None:
    app[CSP] = content_security_policy(app[RUNTIME].config)
    app.on_response_prepare.append(_headers)
    for page in PAGES:
        app.router.add_get(page.path, _serve(page))
    app.router.add_get("/ui/i18n/{language}.json", words)
    # Leaflet first: /static would otherwise take its paths too.
    app.router.add_static("/static/vendor/leaflet", LEAFLET)
    app.router.add_static("/static", STATIC)
