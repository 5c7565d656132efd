"""WebSocket clients seen from the benchmark: worker processes that hold the sockets, commanded together."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.harness import REPO
from bench.harness.servers import Server, bench_module

# A worker's report is one JSON line listing every task it saw: thousands of tasks pass
# asyncio's 64 KiB line limit, which would kill the pump and leave the report unanswered.
REPORT_LIMIT = 64 * 1024 * 1024


class ClientProcesses:
    """`processes` client workers on one URL; commands go to all and wait for every answer."""

    def __init__(
        self, mode: str, url: str, tokens: list[str], processes: int, directory: Path, compression: bool
    ) -> None:
        self.mode = mode
        self.url = url
        self.tokens = tokens
        self.count = processes
        self.directory = directory
        self.compression = compression
        self.processes: list[asyncio.subprocess.Process] = []
        self.answers: list[asyncio.Queue[dict[str, Any]]] = []
        self.completes: dict[int, list[dict[str, Any]]] = {}
        self.waiters: dict[int, asyncio.Future[list[dict[str, Any]]]] = {}
        self.pumps: list[asyncio.Task[None]] = []
        self.opened = 0

    async def __aenter__(self) -> ClientProcesses:
        tokens_file = self.directory / f"tokens-{uuid.uuid4().hex[:8]}.json"
        tokens_file.write_text(json.dumps(self.tokens))
        tokens_file.chmod(0o600)
        for number in range(self.count):
            command = bench_module("bench.harness.ws_worker", self.mode, "--url", self.url)
            command += ["--tokens-file", str(tokens_file)]
            command += ["--compression", "deflate" if self.compression else "off"]
            log = (self.directory / f"client-{self.mode}-{number}.log").open("ab")
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                cwd=REPO,
                limit=REPORT_LIMIT,
            )
            log.close()
            self.processes.append(process)
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self.answers.append(queue)
            self.pumps.append(asyncio.create_task(self._pump(process, queue)))
        for queue in self.answers:
            await asyncio.wait_for(queue.get(), 30)  # "started"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.returncode is None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write(b'{"cmd": "exit"}\n')
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pump in self.pumps:
            pump.cancel()
        await asyncio.gather(*self.pumps, return_exceptions=True)

    async def _pump(self, process: asyncio.subprocess.Process, queue: asyncio.Queue[dict[str, Any]]) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            body = orjson.loads(line)
            if "complete" in body:
                done = self.completes.setdefault(body["complete"], [])
                done.append(body)
                self._wake(body["complete"])
            else:
                await queue.put(body)
        await queue.put({"exited": process.returncode})

    def _wake(self, key: int) -> None:
        done = self.completes.get(key, [])
        waiter = self.waiters.get(key)
        if waiter is not None and not waiter.done() and len(done) >= self.count:
            waiter.set_result(done)

    async def complete(self, key: int, within: float) -> list[dict[str, Any]] | None:
        """Every process's `complete` for an incident, or None when some never came."""
        waiter = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        self._wake(key)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return None

    async def command(self, body: dict[str, Any], within: float = 300) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(orjson.dumps(body) + b"\n")
            await process.stdin.drain()
        return [await asyncio.wait_for(queue.get(), within) for queue in self.answers]

    async def open_to(self, total: int) -> dict[str, Any]:
        """Grow to `total` sockets over all processes; each gets its share of the new ones."""
        wanted = total - self.opened
        shares = [wanted // self.count + (1 if n < wanted % self.count else 0) for n in range(self.count)]
        starts = list(itertools.accumulate([self.opened, *shares]))[:-1]
        began = time.monotonic()
        answers = []
        for process, share, first in zip(self.processes, shares, starts, strict=True):
            assert process.stdin is not None
            process.stdin.write(orjson.dumps({"cmd": "open", "count": share, "first": first}) + b"\n")
            await process.stdin.drain()
        for queue in self.answers:
            answers.append(await asyncio.wait_for(queue.get(), 600))
        self.opened = total
        failures: Counter[str] = Counter()
        for answer in answers:
            failures.update(answer.get("failures", {}))
        return {
            "open": sum(answer.get("open", 0) for answer in answers),
            "failed": sum(answer.get("failed", 0) for answer in answers),
            "failures": dict(failures),
            "seconds": round(time.monotonic() - began, 2),
            "client_rss_kib": sum(answer.get("rss_kib", 0) for answer in answers),
        }

    async def close_all(self) -> None:
        await self.command({"cmd": "close"})
        self.opened = 0

    async def report(self) -> dict[str, Any]:
        reports = await self.command({"cmd": "report"})
        closed: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        results: Counter[str] = Counter()
        for report in reports:
            closed.update(report.get("closed_codes", {}))
            errors.update(report.get("errors", {}))
            results.update(report.get("results", {}))
        return {
            "open": sum(report.get("open", 0) for report in reports),
            "frames": sum(report.get("frames", 0) for report in reports),
            "closed_codes": dict(closed),
            "errors": dict(errors),
            "results": dict(results),
            "tasks": [task for report in reports for task in report.get("tasks", [])],
        }


def ws_url(server: Server, path: str = "/ws") -> str:
    return server.url.replace("http://", "ws://") + path
