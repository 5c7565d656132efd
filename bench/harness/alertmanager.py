"""The peer: Prometheus Alertmanager on loopback, and our alerts as its `/api/v2/alerts` JSON."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import orjson

from bench.harness.servers import Server, child, free_port

BINARY = "prometheus-alertmanager"
# The least a route needs: every alert to a receiver that notifies nobody.
CONFIG = "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"
# Every new alert to a webhook at once: `...` groups by every label, so each alert is a group
# of its own; group_wait 0s flushes a new group as soon as it is made; group_interval and
# repeat_interval only matter for later changes and re-sends, which this load never makes.
WEBHOOK = """route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - url: '{url}'
        send_resolved: false
"""


def webhook_config(url: str) -> str:
    """A config that sends each new alert, alone, to the webhook at `url` without waiting."""
    return WEBHOOK.format(url=url)


def binary() -> str:
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin:/usr/sbin")
    if found is None:
        raise SystemExit(f"{BINARY} is not installed: apt-get install -y {BINARY}")
    return found


def version() -> str:
    import subprocess

    out = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


@contextlib.asynccontextmanager
async def alertmanager(cpus: Collection[int] | None = None, config: str = CONFIG) -> AsyncIterator[Server]:
    """A fresh Alertmanager (its own storage, no cluster) on a loopback port, ready on /-/ready."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-am-") as temp:
        directory = Path(temp)
        (directory / "am.yml").write_text(config)
        port = free_port()
        command = [
            binary(),
            "--cluster.listen-address=",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.path={directory}",
            f"--config.file={directory / 'am.yml'}",
        ]
        log = directory / "alertmanager.log"
        async with child(command, port, log, directory, cpus, ready_path="/-/ready") as running:
            server = Server(running)
            yield server
        server.log_text = log.read_text(errors="replace")


def postable(alert: dict[str, Any]) -> dict[str, Any]:
    """One of our alerts as Alertmanager's postableAlert: identity in labels, the rest annotations."""
    labels = {
        "alertname": alert["category"],
        "instance": alert["source"],
        "event": alert["source_event_id"],
        "kind": alert["kind"],
    }
    if "severity" in alert:
        labels["severity"] = str(alert["severity"])
    location = alert["location"]
    annotations = {"lat": str(location["lat"]), "lon": str(location["lon"])}
    if "title" in alert:
        annotations["summary"] = alert["title"]
    return {"labels": labels, "annotations": annotations, "startsAt": alert["observed_at"]}


def encode(alerts: list[dict[str, Any]]) -> bytes:
    """The body of one POST /api/v2/alerts: always a list, one alert or many."""
    return orjson.dumps([postable(alert) for alert in alerts])
