"""The composition root: builds the runtime, its background tasks and the routes into one app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from dispatch.access import accounts
from dispatch.access.credentials import CredentialWatch
from dispatch.config.model import Config
from dispatch.shared.clock import Clock, SystemClock
from dispatch.storage import database
from dispatch.storage.audit_key import AuditKey
from web import (
    alert_feeds,
    alerts,
    department_tasks,
    docs,
    gateway_routes,
    health,
    incidents,
    jurisdictions,
    link,
    link_messages,
    metrics,
    my_tasks,
    pages,
    reports,
    sessions,
    stats,
    ws,
)
from web.errors import MAX_BODY, error_middleware
from web.front import FrontRuntime
from web.keys import RUNTIME
from web.runtime import Runtime
from web.security import (
    SESSION_CACHE_SECONDS,
    SESSIONS,
    TOKENS,
    SessionCache,
    TokenCache,
    auth_middleware,
    authz_middleware,
)
from web.slow_clients import SLOW_CLIENTS, SlowClients, body_deadline_middleware

logger = logging.getLogger(__name__)

ROUTES: tuple[Callable[[web.Application], None], ...] = (
    health.add_routes,
    alerts.add_routes,
    alert_feeds.add_routes,
    gateway_routes.add_routes,
    link_messages.add_routes,
    incidents.add_routes,
    department_tasks.add_routes,
    ws.add_routes,
    docs.add_routes,
    sessions.add_routes,
    jurisdictions.add_routes,
    link.add_routes,
    my_tasks.add_routes,
    stats.add_routes,
    reports.add_routes,
    pages.add_routes,
    metrics.add_routes,
)


def create_app(
    config: Config,
    *,
    database_url: str = database.DEFAULT_DATABASE_URL,
    clock: Clock | None = None,
    run_scheduler: bool = True,
    mqtt_password: str | None = None,
    audit_key: AuditKey | None = None,
    core_bus: str | None = None,
    link_tokens: dict[str, str] | None = None,
) -> web.Application:
    """The one place that builds the object graph; long-lived tasks start and stop with the app."""
    app = web.Application(
        middlewares=[
            metrics.intake_metrics_middleware,
            error_middleware,
            auth_middleware,
            body_deadline_middleware,
            authz_middleware,  # innermost: a body is read (or times out) before a refusal, as ever
        ],
        client_max_size=config.intake.max_body_bytes,
        # Bodies are decoded by web/request_body.py: a JSON answer for a broken one, no traceback.
        handler_args={"auto_decompress": False},
    )
    runtime: Runtime
    if core_bus is None:
        runtime = Runtime(config, database_url, clock or SystemClock(), mqtt_password, audit_key, link_tokens)
    else:  # a front of `serve --workers N`: the core process at the other end of the bus holds the state
        runtime = FrontRuntime(config, database_url, clock or SystemClock(), core_bus)
    app[RUNTIME] = runtime
    app[MAX_BODY] = config.intake.max_body_bytes
    app[SLOW_CLIENTS] = SlowClients(config.web)
    app[TOKENS] = TokenCache(runtime.lookup_token, runtime.clock.now)
    app[SESSIONS] = SessionCache(runtime.lookup_session, runtime.clock.now)
    app.cleanup_ctx.append(_lifecycle(runtime, run_scheduler, database_url))
    if isinstance(runtime, FrontRuntime):
        runtime.on_logged_out.append(_forget_session(app, runtime))

    async def close_sockets(_app: web.Application) -> None:
        # Before aiohttp waits for open handlers: a socket's handler only ends once it closes.
        await runtime.hub.close_all()

    app.on_shutdown.append(close_sockets)
    for add_routes in ROUTES:
        add_routes(app)
    return app


def _forget_session(app: web.Application, runtime: Runtime) -> Callable[[str], None]:
    """A logout at any front: this front's cache forgets the session and its sockets close."""
    closing: set[asyncio.Task[int]] = set()

    def forget(session_id: str) -> None:
        app[SESSIONS].forget(session_id)
        close = runtime.hub.close_credential(accounts.hash_session_id(session_id), "logged out")
        task = asyncio.ensure_future(close)
        closing.add(task)
        task.add_done_callback(closing.discard)

    return forget


def _lifecycle(
    runtime: Runtime, run_scheduler: bool, database_url: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Start the runtime and its background tasks with the app; cancel and stop them after."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        background = _background(runtime, app[TOKENS].used, run_scheduler)
        logger.info("dispatch ready: %s", database.safe_url(database_url))
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await runtime.stop()

    return lifecycle


def _background(
    runtime: Runtime, tokens_used: dict[str, float], run_scheduler: bool
) -> list[asyncio.Task[None]]:
    watch = CredentialWatch(
        runtime.record_credentials,
        runtime.read,
        runtime.hub,
        runtime.clock,
        tokens_used,
        SESSION_CACHE_SECONDS,
    )
    background = [asyncio.create_task(watch.run(), name="credential-watch")]
    if not runtime.owns_state:
        return background  # a front: the core process writes positions, keeps deadlines, links MQTT
    background.append(asyncio.create_task(runtime.positions.run(), name="position-writer"))
    if run_scheduler:
        background.append(asyncio.create_task(runtime.deadlines.run(), name="deadline-scheduler"))
    if runtime.mqtt is not None:
        background.append(asyncio.create_task(runtime.mqtt.run(), name="mqtt-link"))
    else:
        logger.info(
            "MQTT off until configured: set mqtt.url in config.yaml (or serve --mqtt URL); "
            "sensors and tablets can use HTTP and the WebSocket meanwhile"
        )
    return background
