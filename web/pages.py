"""The people's pages: login, dispatcher console, responder tablet app, big screen, their files.

Pages are shells without data, served to anyone; their scripts read the API, which checks
who asks. Everything they load comes from this server: our own files under /static, and
Leaflet from the `xstatic-leaflet` wheel. Nothing is fetched from the internet.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import orjson
import xstatic.pkg.leaflet
from aiohttp import web

from dispatch.config import Config
from web import i18n
from web.keys import RUNTIME
from web.openapi import Media, PathParameter, operation

STATIC = Path(__file__).parent / "static"
LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)
HTML = Media("text/html", {"type": "string"})

PAGES = {
    "/": "login.html",
    "/console/": "console/index.html",
    "/console/report": "console/report.html",
    "/tablet/": "tablet/index.html",
    "/screen/": "screen/index.html",
}


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


def _page(name: str) -> web.Response:
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@operation(
    "Login page",
    tag="screens",
    description="The people's way in; every role lands on its screen.",
    responses={200: HTML},
)
async def login_page(_request: web.Request) -> web.Response:
    return _page(PAGES["/"])


@operation(
    "Dispatcher console",
    tag="screens",
    description="Queue, map and incident detail for dispatchers (session of a dispatcher or admin).",
    responses={200: HTML},
)
async def console_page(_request: web.Request) -> web.Response:
    return _page(PAGES["/console/"])


@operation(
    "Printable incident report",
    tag="screens",
    description="`?id=N`: the after-action report of one incident (timeline, tasks, times), for printing.",
    responses={200: HTML},
)
async def report_page(_request: web.Request) -> web.Response:
    return _page(PAGES["/console/report"])


@operation(
    "Responder tablet app",
    tag="screens",
    description="Installable web app: tasks ring until acknowledged; actions taken offline are queued.",
    responses={200: HTML},
)
async def tablet_page(_request: web.Request) -> web.Response:
    return _page(PAGES["/tablet/"])


@operation(
    "Tablet app's service worker",
    tag="screens",
    description="Keeps the app shell for offline use; its scope is /tablet/.",
    responses={200: Media("text/javascript", {"type": "string"})},
)
async def tablet_worker(_request: web.Request) -> web.Response:
    return web.Response(
        body=(STATIC / "tablet" / "sw.js").read_bytes(),
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/tablet/"},
    )


@operation(
    "Tablet app's manifest",
    tag="screens",
    description="Web app manifest: installable on a tablet's home screen.",
    responses={200: Media("application/manifest+json", {"type": "object"})},
)
async def tablet_manifest(_request: web.Request) -> web.Response:
    return web.Response(
        body=(STATIC / "tablet" / "manifest.webmanifest").read_bytes(),
        content_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@operation(
    "Command-hall big screen",
    tag="screens",
    description="The city map and today's figures; `?kiosk=1` for a wall that needs no clicks.",
    responses={200: HTML},
)
async def screen_page(_request: web.Request) -> web.Response:
    return _page(PAGES["/screen/"])


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
    if request.path in PAGES:
        response.headers["Content-Security-Policy"] = request.app[CSP]
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


CSP = web.AppKey("content_security_policy", str)


def add_routes(app: web.Application) -> None:
    app[CSP] = content_security_policy(app[RUNTIME].config)
    app.on_response_prepare.append(_headers)
    app.router.add_get("/", login_page)
    app.router.add_get("/console/", console_page)
    app.router.add_get("/console/report", report_page)
    app.router.add_get("/tablet/", tablet_page)
    app.router.add_get("/tablet/sw.js", tablet_worker)
    app.router.add_get("/tablet/manifest.webmanifest", tablet_manifest)
    app.router.add_get("/screen/", screen_page)
    app.router.add_get("/ui/i18n/{language}.json", words)
    # Leaflet first: /static would otherwise take its paths too.
    app.router.add_static("/static/vendor/leaflet", LEAFLET)
    app.router.add_static("/static", STATIC)
