"""GET /metrics: the figures an operator's Prometheus scrapes, for an admin or on its own port."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dispatch.config.model import ConfigError, parse_config
from tests.conftest import Harness, ServerFactory
from tests.factories import EAST_N, WEST_N, alert, config_data
from web.metrics import LISTENER

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(server: Harness, role: str = "admin") -> Samples:
    response = await server.client.get("/metrics", headers=server.auth(role))
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return parse(await response.text())


HOTLINE_CALL = {
    "type": "entry",
    "call_id": "metrics-1",
    "caller_number": "13800000000",
    "location": WEST_N,
    "category": "waterlogging",
    "statement": "water in the underpass",
}


async def test_metrics_count_alerts_incidents_and_tasks(server: Harness) -> None:
    west = await server.post_alert(alert("w1", location=WEST_N))
    await server.post_alert(alert("e1", source="gauge-east", location=EAST_N))
    assert (await server.post_alert(alert("w1", location=WEST_N)))["duplicate"] is True
    refused = await server.post_alert(alert("w2", category="volcano"), expect=422)
    assert refused["error"]["field"] == "category"
    nobody = await server.client.post("/api/v1/alerts", json=alert("w3"))
    assert nobody.status == 401
    hotline = await server.client.post(
        "/api/v1/hotline/calls", json=HOTLINE_CALL, headers=server.auth("gateway")
    )
    assert hotline.status == 202, await hotline.text()
    incident = await server.incident(west["incident_id"])
    [task] = incident["tasks"]
    await server.task_trigger(task["id"], "accept", task["responder_id"])

    samples = await scrape(server)

    assert value(samples, "dispatch_alerts_received_total", channel="api") == 2
    assert value(samples, "dispatch_alerts_duplicate_total", channel="api") == 1
    assert value(samples, "dispatch_alerts_received_total", channel="hotline") == 1
    assert value(samples, "dispatch_alerts_refused_total", channel="api", reason="invalid") == 1
    assert value(samples, "dispatch_alerts_refused_total", channel="api", reason="unauthorized") == 1
    assert value(samples, "dispatch_intake_request_seconds_count", channel="api") == 5
    assert value(samples, "dispatch_intake_request_seconds_count", channel="hotline") == 1
    # Both flood reports are opened at the street tier; the hotline call joins the west one.
    assert incident["owner"]["tier"] == "street"
    assert value(samples, "dispatch_incidents_open", tier="street") == 2
    assert value(samples, "dispatch_incidents_open", tier="town") == 0
    assert value(samples, "dispatch_tasks", state="accepted") == 1
    assert value(samples, "dispatch_tasks", state="pending") == 1
    assert value(samples, "dispatch_tasks", state="done") == 0
    # Every committed command is in exactly one observed batch.
    commands = value(samples, "dispatch_writer_commands_total")
    assert value(samples, "dispatch_writer_batch_size_sum") == commands > 0
    commits = value(samples, "dispatch_writer_commits_total")
    assert value(samples, "dispatch_writer_batch_size_count") == commits
    assert value(samples, "dispatch_writer_commit_seconds_count") == commits
    assert value(samples, "dispatch_database_up") == 1
    assert value(samples, "dispatch_writer_running") == 1
    assert value(samples, "dispatch_mqtt_configured") == 0


async def test_metrics_deadlines_pending_and_overdue(server: Harness) -> None:
    """The scheduler does not run here: a passed deadline stays overdue until someone fires it."""
    await server.post_alert(alert("w1", location=WEST_N))
    await server.post_alert(alert("e1", source="gauge-east", location=EAST_N))

    before = await scrape(server)
    server.runtime.clock.advance(61)  # type: ignore[attr-defined]
    after = await scrape(server)
    fired = await server.fire_deadlines()
    fired_scrape = await scrape(server)

    assert value(before, "dispatch_deadlines_pending") == 2
    assert value(before, "dispatch_deadlines_overdue") == 0
    assert value(after, "dispatch_deadlines_overdue") == 2
    assert fired == 2
    assert value(fired_scrape, "dispatch_deadlines_fired_total") == 2
    assert value(fired_scrape, "dispatch_deadlines_overdue") == 0


async def test_metrics_refuse_callers_without_the_permission(server: Harness) -> None:
    nobody = await server.client.get("/metrics")
    dispatcher = await server.client.get("/metrics", headers=server.auth("dispatcher"))

    assert nobody.status == 401
    assert (await nobody.json())["error"]["code"] == "unauthorized"
    assert dispatcher.status == 403
    assert "read metrics" in (await dispatcher.json())["error"]["message"]


async def test_metrics_each_app_counts_its_own(make_server: ServerFactory) -> None:
    first = await make_server()
    await first.post_alert(alert("w1"))
    second = await make_server()

    samples = await scrape(second)

    assert ("dispatch_alerts_received_total", frozenset({("channel", "api")})) not in samples


async def test_metrics_separate_listener_needs_no_token(make_server: ServerFactory) -> None:
    server = await make_server(parse_config(config_data(metrics={"listen": "127.0.0.1:0"}), "test"))
    await server.post_alert(alert("w1"))
    address = server.client.app[LISTENER].address
    assert address is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{address[0]}:{address[1]}/metrics") as response,
    ):
        assert response.status == 200
        samples = parse(await response.text())

    assert value(samples, "dispatch_alerts_received_total", channel="api") == 1
    assert value(samples, "dispatch_incidents_open", tier="street") == 1


@pytest.mark.parametrize("listen", ["9464", "localhost", ":9464", "host:99999"])
def test_metrics_listen_must_be_host_and_port(listen: str) -> None:
    with pytest.raises(ConfigError, match="host:port"):
        parse_config(config_data(metrics={"listen": listen}), "test")
