"""Responders' devices for the sustained run: one MQTT client per unit, each on its own tasks topic.

A device does what a tablet does over MQTT (docs/tablet.md, gateways/mqtt.py): it subscribes to
`{prefix}/responders/{id}/tasks`, accepts each task_assigned at once on `…/{id}/acks`, and when
the accept's result comes back ok completes the task, which frees the unit for the next one
(bench.scenarios.mqtt_tasks.Tablets, one per device). Devices live in child processes
(`python -m bench.scenarios.sustained_devices`), so their MQTT work is off the load's loop:

    parent → child   the units file (JSON list of ids) on the command line; "exit" on stdin
    child → parent   {"ready": n, "failed": k}, then every second {"delivered", "accepted",
                     "completed"}, at the end {"report": path} of a JSON file with every time.

Times are time.perf_counter(): CLOCK_MONOTONIC on Linux, one clock for every process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiomqtt
import orjson

from bench.harness import REPO
from bench.harness.mqtt import Background, Broker
from bench.harness.servers import bench_module
from bench.harness.system import raise_fd_limit
from bench.scenarios.mqtt_tasks import Tablets

MODULE = "bench.scenarios.sustained_devices"
READY_TIMEOUT_S = 300.0
"""Connecting and subscribing a few thousand devices on a busy machine."""


async def _connect(broker: Broker, prefix: str, units: list[str], background: Background) -> list[Tablets]:
    """Each unit's client connected and subscribed (one at a time: the broker is not the test)."""
    tag = uuid.uuid4().hex[:6]
    devices: list[Tablets] = []
    for unit in units:
        client = broker.client(f"bench-dev-{tag}-{unit}", max_inflight_messages=100)
        await client.__aenter__()
        devices.append(Tablets(client, prefix, background, answer=True))
        await client.subscribe(f"{prefix}/responders/{unit}/tasks", qos=1)
    return devices


def _say(body: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(body).decode() + "\n")
    sys.stdout.flush()


def _counts(devices: list[Tablets]) -> dict[str, int]:
    return {
        "delivered": sum(len(device.received) for device in devices),
        "accepted": sum(len(device.accepted) for device in devices),
        "completed": sum(len(device.completed) for device in devices),
    }


def _report(devices: list[Tablets], background: Background) -> dict[str, Any]:
    """Every device's times by alert title, and what went wrong on the way."""
    results: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    out: dict[str, Any] = {"delivered": {}, "accepted": {}, "completed": {}}
    for device in devices:
        out["delivered"].update(device.received)
        out["accepted"].update(device.accepted)
        out["completed"].update(device.completed)
        results.update(device.results)
        tiers.update(device.tiers)
    out["results"] = dict(results)
    out["tiers"] = dict(tiers)
    out["tasks_seen"] = sum(device.tasks_seen for device in devices)
    out["wrong_topic"] = sum(device.wrong_topic for device in devices)
    out["publish_failures"] = dict(background.failures)
    return out


async def _child(args: argparse.Namespace) -> None:
    raise_fd_limit()
    broker = Broker(args.host, args.port, Path("/dev/null"), {})
    units: list[str] = orjson.loads(await asyncio.to_thread(Path(args.units_file).read_bytes))
    background = Background()
    devices = await _connect(broker, args.prefix, units, background)
    readers = [asyncio.create_task(device.read()) for device in devices]
    _say({"ready": len(devices), "failed": len(units) - len(devices)})
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    told = asyncio.create_task(stdin.readline())
    while not told.done():
        await asyncio.wait([told], timeout=1.0)
        _say(_counts(devices))
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await background.wait()
    await asyncio.to_thread(Path(args.report).write_bytes, orjson.dumps(_report(devices, background)))
    for device in devices:
        with contextlib.suppress(aiomqtt.MqttError):
            await device.client.__aexit__(None, None, None)
    _say({"report": args.report})


class Devices:
    """The device processes of one run, their units shared out; live counts; their merged report."""

    def __init__(self, broker: Broker, prefix: str, units: list[str], processes: int, directory: Path):
        self.broker, self.prefix, self.directory = broker, prefix, directory
        self.shares = [units[number::processes] for number in range(processes)]
        self.processes: list[asyncio.subprocess.Process] = []
        self.counts: list[dict[str, int]] = [{} for _ in self.shares]
        self.reports: list[Path] = []
        self._pumps: list[asyncio.Task[None]] = []
        self._ready: list[asyncio.Future[dict[str, Any]]] = []
        self._done: list[asyncio.Future[str]] = []

    async def __aenter__(self) -> Devices:
        loop = asyncio.get_running_loop()
        for number, share in enumerate(self.shares):
            units_file = self.directory / f"devices-{number}.json"
            units_file.write_bytes(orjson.dumps(share))
            report = self.directory / f"devices-{number}-report.json"
            command = bench_module(MODULE, "--host", self.broker.host, "--port", str(self.broker.port))
            command += ["--prefix", self.prefix, "--units-file", str(units_file), "--report", str(report)]
            with (self.directory / f"devices-{number}.log").open("ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                    cwd=REPO,
                )
            self.processes.append(process)
            self.reports.append(report)
            self._ready.append(loop.create_future())
            self._done.append(loop.create_future())
            self._pumps.append(asyncio.create_task(self._pump(number, process)))
        answers = await asyncio.wait_for(asyncio.gather(*self._ready), READY_TIMEOUT_S)
        failed = sum(answer.get("failed", 0) for answer in answers)
        if failed or any("exited" in answer for answer in answers):
            raise RuntimeError(f"devices did not all start: {answers}")
        return self

    async def _pump(self, number: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            body = orjson.loads(line)
            if "ready" in body:
                self._ready[number].set_result(body)
            elif "report" in body:
                self._done[number].set_result(body["report"])
            else:
                self.counts[number] = body
        for future in (self._ready[number], self._done[number]):
            if not future.done():
                future.set_exception(RuntimeError(f"device process {number} exited ({process.returncode})"))

    def live(self) -> dict[str, int]:
        """The devices' latest counts: tasks delivered, accepts and completions confirmed."""
        total: Counter[str] = Counter()
        for counts in self.counts:
            total.update(counts)
        return dict(total)

    async def finish(self) -> dict[str, Any]:
        """Stop the devices; their reports merged (times by alert title, results, tiers)."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(b"exit\n")
            await process.stdin.drain()
        await asyncio.wait_for(asyncio.gather(*self._done), 120)
        merged: dict[str, Any] = {"delivered": {}, "accepted": {}, "completed": {}}
        counters: dict[str, Counter[str]] = {
            "results": Counter(),
            "tiers": Counter(),
            "publish_failures": Counter(),
        }
        sums = Counter[str]()
        for report in self.reports:
            body = orjson.loads(report.read_bytes())
            for key in ("delivered", "accepted", "completed"):
                merged[key].update(body[key])
            for key, counter in counters.items():
                counter.update(body[key])
            sums.update({"tasks_seen": body["tasks_seen"], "wrong_topic": body["wrong_topic"]})
        return merged | {key: dict(counter) for key, counter in counters.items()} | dict(sums)

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(OSError):
                    assert process.stdin is not None
                    process.stdin.close()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--units-file", required=True)
    parser.add_argument("--report", required=True)
    asyncio.run(_child(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
