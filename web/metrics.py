"""`GET /metrics` (Prometheus text format): on the main port for admins, or on its own listener.

The intake routes are timed and their refusals counted by a middleware; everything that
/readyz shows, and what the database holds now (open incidents, tasks, deadlines), is read
when Prometheus scrapes, by `ServerCollector`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dispatch.access.authz import Action
from dispatch.config.values import Tier
from dispatch.core.outbound import destinations
from dispatch.ops.metrics import StoredState, intake_channel, read_state
from gateways.mqtt_status import MqttStatus
from state_machines import TaskState
from web.errors import Handler
from web.gateway_routes import REJECTED
from web.keys import RUNTIME
from web.openapi import Media, operation

logger = logging.getLogger(__name__)

INTAKE_CHANNELS = {
    "/api/v1/alerts": "api",
    "/api/v1/alerts/frigate": "frigate",
    "/api/v1/hotline/calls": "hotline",
    "/api/v1/alerts/cap": "cap",
    "/api/v1/alerts/alertmanager": "alertmanager",
}
"""Intake routes by the channel their alerts are counted under."""


@web.middleware
async def intake_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time each intake request and count its refusal by error code; other routes pass through."""
    resource = request.match_info.route.resource
    channel = INTAKE_CHANNELS.get(resource.canonical) if resource is not None else None
    if channel is None:
        return await handler(request)
    metrics = request.app[RUNTIME].metrics
    started = time.perf_counter()
    token = intake_channel.set(channel)  # not `arriving_on`: a generator costs more than the rest
    try:
        response = await handler(request)
    finally:
        intake_channel.reset(token)
    metrics.observe_intake(channel, time.perf_counter() - started)
    if response.status >= 400:
        metrics.alerts_refused.labels(channel, _error_code(response)).inc()
    return response


def _error_code(response: web.StreamResponse) -> str:
    """The `error.code` of our JSON error body; the status when there is none."""
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes):
        try:
            code = orjson.loads(body)["error"]["code"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        else:
            if isinstance(code, str):
                return code
    return str(response.status)


class ServerCollector(Collector):
    """Scrape-time figures: stored state (read just before), the hub, the MQTT link, the writer."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.stored: StoredState | None = None
        """Set by the handler right before each exposition; None when the database did not answer."""

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        runtime = self._app[RUNTIME]
        yield _gauge(
            "dispatch_database_up",
            "1 when the database answered this scrape's queries.",
            1 if self.stored is not None else 0,
        )
        if self.stored is not None:
            configured = [each.destination for each in destinations(runtime.config)]
            yield from _stored(self.stored, configured)
        writer = runtime.writer_figures()
        yield _gauge("dispatch_writer_running", "1 while the single writer runs.", 1 if writer.running else 0)
        yield _counter("dispatch_writer_commits", "Group commits since start.", writer.batches)
        yield _counter("dispatch_writer_commands", "Commands committed since start.", writer.commands)
        yield _counter(
            "dispatch_deadlines_fired",
            "Incidents whose step deadline fired since start.",
            runtime.deadlines.fired,
        )
        next_due = GaugeMetricFamily(
            "dispatch_deadline_next_timestamp_seconds",
            "When the scheduler next looks at a deadline (Unix time); absent when none is stored.",
        )
        if runtime.deadlines.next_due is not None:
            next_due.add_metric([], runtime.deadlines.next_due)
        yield next_due
        connections, dropped_slow = runtime.socket_figures()
        yield _gauge(
            "dispatch_websocket_connections", "Authenticated WebSocket connections open now.", connections
        )
        yield _counter(
            "dispatch_websocket_slow_consumers_dropped",
            "WebSocket connections closed because their client stopped reading.",
            dropped_slow,
        )
        rejected = CounterMetricFamily(
            "dispatch_gateway_rejected", "Malformed gateway messages, by route.", labels=["route"]
        )
        for route, count in sorted(self._app[REJECTED].items()):
            rejected.add_metric([route], count)
        yield rejected
        yield from _mqtt(runtime.mqtt_stats())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _stored(stored: StoredState, destinations: list[str]) -> Iterable[GaugeMetricFamily]:
    incidents = GaugeMetricFamily(
        "dispatch_incidents_open",
        "Open incidents (reported … on_scene) by the tier that owns them.",
        labels=["tier"],
    )
    for tier in Tier:
        incidents.add_metric([tier.value], stored.open_incidents_by_tier.get(tier.value, 0))
    yield incidents
    tasks = GaugeMetricFamily("dispatch_tasks", "Tasks stored, by state.", labels=["state"])
    for state in TaskState:
        tasks.add_metric([state.value], stored.tasks_by_state.get(state.value, 0))
    yield tasks
    yield _gauge(
        "dispatch_deadlines_pending", "Incidents with a step deadline stored.", stored.deadlines_pending
    )
    yield _gauge(
        "dispatch_deadlines_overdue",
        "Incidents whose step deadline has passed and not fired yet.",
        stored.deadlines_overdue,
    )
    queued = GaugeMetricFamily(
        "dispatch_outbound_queued",
        "Outbox messages waiting to be sent, by destination.",
        labels=["destination"],
    )
    for destination in sorted({*destinations, *stored.outbound_queued}):
        queued.add_metric([destination], stored.outbound_queued.get(destination, 0))
    yield queued


def _mqtt(stats: MqttStatus | None) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
    yield _gauge("dispatch_mqtt_configured", "1 when mqtt.url is set.", 0 if stats is None else 1)
    if stats is None:
        return
    yield _gauge(
        "dispatch_mqtt_connected", "1 while the link to the broker is up.", 1 if stats["connected"] else 0
    )
    sessions = GaugeMetricFamily(
        "dispatch_mqtt_session_up", "1 while a broker session is live.", labels=["client_id"]
    )
    for client_id, live in sorted(_mapping(stats["sessions"]).items()):
        sessions.add_metric([client_id], 1 if live else 0)
    yield sessions
    for counts, name, documentation in (
        (stats["received"], "dispatch_mqtt_received", "MQTT messages handled, by kind."),
        (stats["rejected"], "dispatch_mqtt_rejected", "MQTT messages refused as malformed, by kind."),
    ):
        family = CounterMetricFamily(name, documentation, labels=["kind"])
        for kind, count in sorted(_mapping(counts).items()):
            family.add_metric([kind], count)
        yield family
    yield _counter("dispatch_mqtt_failed", "MQTT messages whose handling failed.", _number(stats["failed"]))
    yield _counter("dispatch_mqtt_published", "MQTT messages published.", _number(stats["published"]))
    yield _gauge(
        "dispatch_mqtt_outbox_messages",
        "Messages waiting for the broker to come back.",
        _number(stats["outbox"]),
    )
    yield _counter(
        "dispatch_mqtt_outbox_dropped",
        "Messages dropped from a full outbox.",
        _number(stats["outbox_dropped"]),
    )


def _mapping(value: object) -> dict[str, float]:
    assert isinstance(value, dict)
    return {str(key): float(each) for key, each in value.items()}


def _number(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


COLLECTOR: web.AppKey[ServerCollector] = web.AppKey("metrics_collector")
LISTENER: web.AppKey[Listener] = web.AppKey("metrics_listener")


async def _exposition(app: web.Application) -> web.Response:
    runtime = app[RUNTIME]
    collector = app[COLLECTOR]
    now = runtime.clock.now()
    try:
        stored: StoredState | None = await runtime.read(lambda connection: read_state(connection, now))
    except Exception as err:  # any driver error: the scrape still shows everything else
        logger.warning("metrics: the database did not answer (%s)", type(err).__name__)
        stored = None
    await runtime.refresh()
    collector.stored = stored  # no await between here and the exposition: scrapes cannot mix
    body = generate_latest(runtime.metrics.exposition(collector))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@operation(
    "Prometheus metrics",
    tag="health",
    actions=[Action.READ_METRICS],
    description=(
        "Counters and histograms since start (alerts received, duplicate and refused by channel, "
        "intake and commit latency, writer batch size, WebSocket and MQTT figures) and what the "
        "database holds now (open incidents by tier, tasks by state, deadlines pending and overdue), "
        "in the Prometheus text format. With `metrics.listen` set, also served there without "
        "authentication."
    ),
    responses={200: Media(CONTENT_TYPE_LATEST, {"type": "string"})},
)
async def metrics(request: web.Request) -> web.Response:
    return await _exposition(request.app)


class Listener:
    """With `metrics.listen`: a second, unauthenticated server that answers only /metrics."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        """Where it is bound, once started (port 0 in config picks a free one)."""
        self.sockets: list[socket.socket] = []
        """Sockets `dispatch serve` bound before start-up (a busy port is one line there); else bound here."""

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        settings = app[RUNTIME].config.metrics
        if settings.listen is None:
            yield
            return

        async def open_metrics(_request: web.Request) -> web.Response:
            return await _exposition(app)

        side = web.Application()
        side.router.add_get("/metrics", open_metrics)
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        try:
            if self.sockets:
                for sock in self.sockets:
                    await web.SockSite(runner, sock).start()
            else:
                await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self.address = (host, port)
        logger.info("metrics on http://%s:%s/metrics (no authentication)", host, port)
        try:
            yield
        finally:
            await runner.cleanup()


def add_routes(app: web.Application) -> None:
    app[COLLECTOR] = collector = ServerCollector(app)
    app[RUNTIME].metrics.registry.register(collector)
    app[LISTENER] = listener = Listener()
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(listener.run)
