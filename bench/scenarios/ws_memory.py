"""The WebSocket benchmark's (a): server memory per idle tablet socket, beside a bare aiohttp echo server."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.harness.servers import Server, bare_server
from bench.harness.stats import fixed as _f
from bench.harness.stats import mib as _mib
from bench.harness.stats import parse_sizes
from bench.harness.stats import ratio as _ratio
from bench.harness.system import rss_kib
from bench.harness.tokens import Tokens
from bench.harness.ws_clients import ClientProcesses, ws_url
from bench.scenarios.ws_server import SETTLE_S, dispatch_server, server_troubles


@dataclass
class MemoryRun:
    server: str
    rss_before_kib: int
    sizes: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed_codes: dict[str, int] = field(default_factory=dict)
    troubles: dict[str, Any] = field(default_factory=dict)


async def measure_memory(
    server: Server,
    name: str,
    tokens: list[str],
    sizes: list[int],
    args: argparse.Namespace,
    directory: Path,
    compression: bool,
) -> MemoryRun:
    pid = server.pid
    async with ClientProcesses(
        "idle", ws_url(server), tokens, args.client_processes, directory, compression
    ) as clients:
        await clients.open_to(50)  # warm: lazy imports, caches, the first allocator arenas
        await clients.close_all()
        await asyncio.sleep(SETTLE_S)
        run = MemoryRun(server=name, rss_before_kib=rss_kib(pid))
        for size in sizes:
            opened = await clients.open_to(size)
            await asyncio.sleep(SETTLE_S)
            after = rss_kib(pid)
            reached = opened["open"]
            run.sizes[size] = {
                **opened,
                "rss_after_kib": after,
                "kib_per_connection": (after - run.rss_before_kib) / reached if reached else float("nan"),
                "server_fds": len(os.listdir(f"/proc/{pid}/fd")),
            }
            print(
                f"  {name}: {reached:,} open ({opened['failed']} failed, {opened['seconds']} s), "
                f"server RSS {after / 1024:,.1f} MiB, "
                f"{run.sizes[size]['kib_per_connection']:.1f} KiB/connection",
                flush=True,
            )
            if opened["failed"]:
                print(f"    failures: {opened['failures']}", flush=True)
                break
        run.closed_codes = (await clients.report())["closed_codes"]
    return run


async def memory_scenario(
    args: argparse.Namespace, tokens: Tokens, template: Path, directory: Path
) -> dict[str, Any]:
    sizes = parse_sizes(args.connections)
    modes = [mode.strip() for mode in args.memory_compression.split(",") if mode.strip()]
    tablets = list(tokens.responders.values())
    runs: dict[str, list[MemoryRun]] = {}
    for number in range(args.runs_memory):
        for mode in modes:
            deflate = mode == "deflate"
            print(f"memory run {number + 1}, compression {mode}", flush=True)
            async with dispatch_server(template, args.config) as server:
                run = await measure_memory(server, "dispatch", tablets, sizes, args, directory, deflate)
            run.troubles = server_troubles(server.log_text)
            runs.setdefault(f"dispatch {mode}", []).append(run)
            async with bare_server("echo") as server:
                run = await measure_memory(server, "bare aiohttp", [], sizes, args, directory, deflate)
            runs.setdefault(f"bare aiohttp {mode}", []).append(run)
    medians = {
        name: {
            size: statistics.median(
                run.sizes[size]["kib_per_connection"] for run in each if size in run.sizes
            )
            for size in sizes
            if any(size in run.sizes for run in each)
        }
        for name, each in runs.items()
    }
    lines = [
        f"(a) Idle tablets: server RSS growth per socket (KiB), median of {args.runs_memory} run(s); "
        f"{len(tablets)} responder tokens, the tablets of a unit share its token",
        "",
        "| sockets | permessage-deflate | reached | dispatch KiB/socket | bare aiohttp KiB/socket | ratio "
        "| dispatch RSS MiB | bare RSS MiB | connect s | server fds |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for mode in modes:
            ours = medians[f"dispatch {mode}"].get(size)
            bare = medians[f"bare aiohttp {mode}"].get(size)
            last = runs[f"dispatch {mode}"][-1].sizes.get(size, {})
            last_bare = runs[f"bare aiohttp {mode}"][-1].sizes.get(size, {})
            lines.append(
                f"| {size:,} | {'offered' if mode == 'deflate' else 'off'} | {last.get('open', 0):,} "
                f"| {_f(ours)} | {_f(bare)} | {_ratio(ours, bare)} | {_mib(last.get('rss_after_kib'))} "
                f"| {_mib(last_bare.get('rss_after_kib'))} | {last.get('seconds', '—')} "
                f"| {last.get('server_fds', '—')} |"
            )
    return {
        "sizes": sizes,
        "compression_modes": modes,
        "median_kib_per_connection": medians,
        "runs": {name: [asdict(run) for run in each] for name, each in runs.items()},
        "table": "\n".join(lines),
    }
