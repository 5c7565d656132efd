"""Alertmanager webhooks (version 4): recorded payloads, firing → incidents, resolved → resolved."""

from __future__ import annotations

import asyncio
import copy
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import sqlalchemy as sa
from pydantic import TypeAdapter

from dispatch.config.model import Config
from dispatch.shared.errors import InvalidInput
from dispatch.storage.tables import alert_table
from gateways import alertmanager
from tests.conftest import Harness, ServerFactory
from tests.factories import config_data, make_config
from web.alert_feeds import AlertmanagerResults

FIXTURES = Path(__file__).parent / "fixtures" / "alertmanager"
URL = "/api/v1/alerts/alertmanager"
SETTINGS = {
    "categories": {"WaterLevelAboveWarning": "waterlogging"},
    "default_category": "vending",
    "default_jurisdiction": "city",
}
WATER = "1a30ba71cca2921f@2026-07-01T00:00:15.828000Z"
PROBE = "c6eadffa33fcdf37@2026-07-01T00:01:45.123456Z"


def _config(*, auto_resolve: bool = False) -> Config:
    policies = config_data()["policies"]
    for name in ("standard", "critical"):
        policies[name] = {**policies[name], "auto_resolve": auto_resolve}
    return make_config(alertmanager=SETTINGS, policies=policies)


def _payload(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads((FIXTURES / name).read_bytes())
    return payload


def _translate(payload: dict[str, Any], config: Config | None = None) -> list[alertmanager.Notice]:
    webhook = alertmanager.AlertmanagerWebhook.model_validate(payload)
    return alertmanager.translate(webhook, config or _config())


@pytest.fixture
async def am_server(make_server: ServerFactory) -> Harness:
    return await make_server(_config())


@pytest.fixture
async def auto_server(make_server: ServerFactory) -> Harness:
    return await make_server(_config(auto_resolve=True))


async def _post(server: Harness, body: Any, *, expect: int = 202) -> Any:
    response = await server.client.post(URL, json=body, headers=server.auth("gateway"))
    assert response.status == expect, await response.text()
    answer = await response.json()
    if expect == 202:
        TypeAdapter(AlertmanagerResults).validate_python(answer, strict=True)
    return answer


async def _alert_count(server: Harness) -> int:
    return await server.runtime.read(
        lambda connection: connection.execute(sa.select(sa.func.count()).select_from(alert_table)).scalar()
    )


# translate() on recorded payloads ----------------------------------------------------------


def test_alertmanager_translate_firing_payload() -> None:
    water, probe = _translate(_payload("firing.json"))

    assert (water.status, water.source, water.source_event_id) == ("firing", "dispatch", WATER)
    assert water.alert is not None
    assert water.alert.model_dump(mode="json", exclude={"attributes", "observed_at"}) == {
        "source": "dispatch",
        "source_event_id": WATER,
        "kind": "monitoring",
        "category": "waterlogging",  # by alertname
        "severity": 2,  # critical
        "location": {"lat": 28.151, "lon": 112.101},
        "jurisdiction": None,
        "title": "Water level above warning at gauge qionghu-3",
        "description": "Gauge qionghu-3 reads 32.9 m, 0.4 m above the warning level, for over 5m.",
    }
    assert water.alert.attributes["alertmanager"]["labels"]["job"] == "water_gauges"
    assert probe.alert is not None
    assert (probe.alert.category, probe.alert.severity) == ("vending", 3)  # default; warning
    assert (probe.alert.location, probe.alert.jurisdiction) == (None, "east")
    assert orjson.loads(water.raw)["fingerprint"] == "1a30ba71cca2921f"


def test_alertmanager_translate_resolved_payload_names_the_same_keys() -> None:
    notices = _translate(_payload("resolved.json"))

    assert [(n.status, n.source_event_id, n.alert) for n in notices] == [
        ("resolved", WATER, None),
        ("resolved", PROBE, None),
    ]


def test_alertmanager_translate_documented_sample() -> None:
    [notice] = _translate(_payload("probe_failure_sample.json"))

    assert notice.source == "sms"
    assert notice.source_event_id == "1a30ba71cca2921f@2023-02-06T13:08:45.828000Z"
    assert notice.alert is not None
    assert (notice.alert.severity, notice.alert.jurisdiction) == (2, "city")  # default jurisdiction
    assert notice.alert.title == "BlackBox Probe Failure: https://server.example.org"


def test_alertmanager_translate_category_label_and_unmapped_severity() -> None:
    payload = _payload("probe_failure_sample.json")
    payload["alerts"][0]["labels"].update(category="waterlogging", severity="page", alertname="X")
    payload["receiver"] = " "

    [notice] = _translate(payload)

    assert notice.alert is not None
    assert (notice.alert.category, notice.alert.severity, notice.source) == (
        "waterlogging",
        None,
        "alertmanager",
    )


def _with_labels(**labels: str | None) -> dict[str, Any]:
    payload = _payload("firing.json")
    for name, value in labels.items():
        if value is None:
            payload["alerts"][1]["labels"].pop(name, None)
        else:
            payload["alerts"][1]["labels"][name] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "config", "field"),
    [
        (_with_labels(lat="28.1"), None, "alerts.1.labels.lon"),
        (_with_labels(lat="north", lon="112.1"), None, "alerts.1.labels.lat"),
        (_with_labels(lat="95", lon="112.1"), None, "alerts.1.labels.lat"),
        (_with_labels(jurisdiction="atlantis"), None, "alerts.1.labels.jurisdiction"),
        (_with_labels(jurisdiction=None), make_config(), "alerts.0.labels.alertname"),
        (
            _with_labels(jurisdiction=None),
            make_config(alertmanager={"default_category": "vending"}),
            "alerts.1.labels",
        ),
    ],
    ids=["lat-without-lon", "lat-not-a-number", "lat-95", "unknown-jurisdiction", "no-category", "no-place"],
)
def test_alertmanager_translate_malformed_names_the_field(
    payload: dict[str, Any], config: Config | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _translate(payload, config)

    assert refused.value.field == field


# Over HTTP -----------------------------------------------------------------------------------


async def test_alertmanager_post_firing_opens_incidents_and_repeats_are_duplicates(
    am_server: Harness,
) -> None:
    first = await _post(am_server, _payload("firing.json"))

    water, probe = first["results"]
    assert (water["status"], water["source_event_id"], water["duplicate"]) == ("firing", WATER, False)
    assert water["incident_id"] != probe["incident_id"]
    incident = await am_server.incident(water["incident_id"])
    assert (incident["jurisdiction"], incident["severity"], incident["category"]) == (
        "west-n",
        2,
        "waterlogging",
    )
    assert (await am_server.incident(probe["incident_id"]))["jurisdiction"] == "east"
    # Alertmanager notifies again every repeat_interval: the same alerts, nothing new.
    again = await _post(am_server, _payload("firing.json"))
    assert [each["duplicate"] for each in again["results"]] == [True, True]
    assert await _alert_count(am_server) == 2


async def test_alertmanager_post_resolved_marks_alerts_resolved_on_the_timeline(am_server: Harness) -> None:
    fired = await _post(am_server, _payload("firing.json"))

    resolved = await _post(am_server, _payload("resolved.json"))

    assert [(r["status"], r["changed"]) for r in resolved["results"]] == [
        ("resolved", True),
        ("resolved", True),
    ]
    assert [r["alert_id"] for r in resolved["results"]] == [r["alert_id"] for r in fired["results"]]
    incident = await am_server.incident(fired["results"][0]["incident_id"])
    assert incident["timeline"][-1]["type"] == "alert_resolved"
    assert incident["state"] == "dispatched"  # the policy does not auto-resolve
    repeat = await _post(am_server, _payload("resolved.json"))
    assert [r["changed"] for r in repeat["results"]] == [False, False]


async def test_alertmanager_post_resolved_auto_resolves_when_policy_says(auto_server: Harness) -> None:
    fired = await _post(auto_server, _payload("firing.json"))

    await _post(auto_server, _payload("resolved.json"))

    for result in fired["results"]:
        incident = await auto_server.incident(result["incident_id"])
        assert (incident["state"], incident["summary"]) == ("resolved", "all alerts resolved")


async def test_alertmanager_post_resolved_never_fired_changes_nothing(am_server: Harness) -> None:
    answer = await _post(am_server, _payload("resolved.json"))

    assert [(r["alert_id"], r["incident_id"], r["changed"]) for r in answer["results"]] == [
        (None, None, False),
        (None, None, False),
    ]
    assert await _alert_count(am_server) == 0


async def test_alertmanager_post_mixed_firing_and_resolved(am_server: Harness) -> None:
    await _post(am_server, _payload("firing.json"))
    mixed = copy.deepcopy(_payload("firing.json"))
    mixed["alerts"][1] = _payload("resolved.json")["alerts"][1]

    answer = await _post(am_server, mixed)

    assert [(r["status"], r["duplicate"], r["changed"]) for r in answer["results"]] == [
        ("firing", True, None),
        ("resolved", None, True),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"alerts": []}, "alerts"),
        ({"alerts": [{"status": "firing", "labels": {}}]}, "alerts.0.startsAt"),
    ],
    ids=["version-3", "no-alerts", "alert-without-start"],
)
async def test_alertmanager_post_invalid_payload_is_422_and_stores_nothing(
    am_server: Harness, change: dict[str, Any], field: str
) -> None:
    answer = await _post(am_server, {**_payload("firing.json"), **change}, expect=422)

    assert answer["error"]["field"] == field
    assert await _alert_count(am_server) == 0


async def test_alertmanager_post_one_bad_alert_refuses_the_whole_notification(am_server: Harness) -> None:
    answer = await _post(am_server, _with_labels(lat="north", lon="112.1"), expect=422)

    assert answer["error"]["field"] == "alerts.1.labels.lat"
    assert await _alert_count(am_server) == 0


# Against the real Alertmanager ---------------------------------------------------------------

ALERTMANAGER = "prometheus-alertmanager"
PATIENCE = 20.0  # a safety net against hangs, never a timing assertion


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def real_alertmanager(tmp_path: Path, auto_server: Harness) -> AsyncIterator[str]:
    """Alertmanager on a loopback port, its webhook receiver pointing at our server."""
    binary = shutil.which(ALERTMANAGER)
    if binary is None:
        pytest.fail(f"{ALERTMANAGER} is not installed: apt-get install -y {ALERTMANAGER} (.ci/run does)")
    webhook = str(auto_server.client.make_url(URL))
    config = {
        "route": {
            "receiver": "dispatch",
            "group_by": ["..."],  # every alert its own group: notified at once
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "dispatch",
                "webhook_configs": [
                    {
                        "url": webhook,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": auto_server.token("gateway")}
                        },
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(orjson.dumps(config).decode())  # JSON is YAML
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await _until(lambda: _ready(session, base), "Alertmanager to be ready")
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
        _, errors = await process.communicate()
        assert process.returncode in (0, -signal.SIGTERM), errors.decode()


async def _ready(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(f"{base}/-/ready") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"waited {PATIENCE:.0f}s for {what}")
        await asyncio.sleep(0.1)


async def test_alertmanager_real_server_incident_appears_then_resolves(
    auto_server: Harness, real_alertmanager: str
) -> None:
    started = "2026-07-01T08:00:00Z"
    alert = {
        "labels": {
            "alertname": "WaterLevelAboveWarning",
            "severity": "warning",
            "lat": "28.151",
            "lon": "112.101",
        },
        "annotations": {"summary": "Water level above warning at gauge qionghu-3"},
        "startsAt": started,
    }

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{real_alertmanager}/api/v2/alerts", json=[alert]) as response:
            assert response.status == 200, await response.text()

        async def opened() -> bool:
            return await _alert_count(auto_server) == 1

        await _until(opened, "the firing notification")
        incident_id = await auto_server.runtime.read(
            lambda connection: connection.execute(sa.select(alert_table.c.incident_id)).scalar_one()
        )
        incident = await auto_server.incident(incident_id)
        assert (incident["category"], incident["severity"], incident["jurisdiction"]) == (
            "waterlogging",
            3,
            "west-n",
        )
        [received] = incident["alerts"]
        assert (received["kind"], received["source"]) == ("monitoring", "dispatch")
        assert received["source_event_id"].endswith("@2026-07-01T08:00:00Z")

        ended = {**alert, "endsAt": "2026-07-01T08:05:00Z"}  # in the past: resolved now
        async with session.post(f"{real_alertmanager}/api/v2/alerts", json=[ended]) as response:
            assert response.status == 200, await response.text()

        async def resolved() -> bool:
            return bool((await auto_server.incident(incident_id))["state"] == "resolved")

        await _until(resolved, "the resolved notification")
    incident = await auto_server.incident(incident_id)
    assert incident["summary"] == "all alerts resolved"
    assert [event["type"] for event in incident["timeline"]].count("alert_resolved") == 1


async def test_alertmanager_resolve_never_touches_another_kind_under_the_same_key(am_server: Harness) -> None:
    # A sensor alert whose (source, source_event_id) collides with an Alertmanager alert's key.
    resolved = _payload("resolved.json")
    [notice, *_] = _translate(resolved)
    sensor = await am_server.post_alert(
        {
            "source": notice.source,
            "source_event_id": notice.source_event_id,
            "kind": "sensor",
            "category": "waterlogging",
            "jurisdiction": "west",
        }
    )

    answer = await _post(am_server, resolved)

    assert (answer["results"][0]["alert_id"], answer["results"][0]["changed"]) == (None, False)
    resolved_at = await am_server.runtime.read(
        lambda connection: connection.execute(
            sa.select(alert_table.c.resolved_at).where(alert_table.c.id == sensor["alert_id"])
        ).scalar_one()
    )
    assert resolved_at is None
    incident = await am_server.incident(sensor["incident_id"])
    assert "alert_resolved" not in [event["type"] for event in incident["timeline"]]
