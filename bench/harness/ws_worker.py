"""A WebSocket client worker: a child process holding many sockets, driven by JSON lines on stdin.

Run by bench.harness.ws_clients as
`python -m bench.harness.ws_worker idle|console|tablet --url URL [--tokens-file F] [--compression deflate]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import websockets

from bench.harness.system import raise_fd_limit, rss_kib

CONNECT_CONCURRENCY = 100


class ClientWorker:
    """Holds many sockets; told what to do by JSON lines on stdin, answers on stdout.

    Modes: `idle` reads and drops; `console` notes when each incident_reported arrives and says
    `complete` once every open socket of this process has it; `tablet` notes every
    task_assigned and at once accepts, then completes, the task over the same socket.
    """

    def __init__(self, mode: str, url: str, tokens: list[str], compression: bool) -> None:
        self.mode = mode
        self.url = url
        self.tokens = tokens
        self.compression = compression
        self.sockets: set[Any] = set()
        self.readers: set[asyncio.Task[None]] = set()
        self.live = 0
        self.frames = 0
        self.closed_codes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.incidents: dict[int, list[float]] = {}  # id → [count, first, last, occurred_at]
        self.completed: set[int] = set()
        self.tasks: list[dict[str, Any]] = []
        self.results: Counter[str] = Counter()

    def say(self, body: dict[str, Any]) -> None:
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        sys.stdout.flush()

    async def open(self, count: int, first: int) -> dict[str, Any]:
        began = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures: Counter[str] = Counter()

        async def one(index: int) -> None:
            token = self.tokens[index % len(self.tokens)] if self.tokens else ""
            headers = {"Authorization": f"Bearer {token}"} if token else None
            async with gate:
                try:
                    ws = await websockets.connect(
                        self.url,
                        additional_headers=headers,
                        ping_interval=None,
                        open_timeout=60,
                        close_timeout=2,
                        compression="deflate" if self.compression else None,
                        max_queue=None,
                    )
                    hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
                except Exception as err:  # counted and reported, never fatal
                    failures[f"{type(err).__name__}: {str(err)[:120]}"] += 1
                    return
            self.sockets.add(ws)
            self.live += 1
            reader = asyncio.create_task(self.read(ws, hello.get("responder")))
            self.readers.add(reader)
            reader.add_done_callback(self.readers.discard)

        await asyncio.gather(*(one(first + n) for n in range(count)))
        return {
            "open": self.live,
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(3)),
            "seconds": round(time.monotonic() - began, 2),
            "rss_kib": rss_kib(os.getpid()),
        }

    async def read(self, ws: Any, responder: str | None) -> None:
        try:
            async for message in ws:
                received = time.time()
                self.frames += 1
                if self.mode == "console":
                    self.console_frame(message, received)
                elif self.mode == "tablet":
                    await self.tablet_frame(ws, message, received, responder)
        except websockets.ConnectionClosed:
            pass
        except Exception as err:  # a reader never takes the worker down
            self.errors[f"{type(err).__name__}: {str(err)[:120]}"] += 1
        finally:
            if ws.close_code not in (None, 1000) or ws in self.sockets:
                self.closed_codes[f"{ws.close_code} {ws.close_reason or ''}".strip()] += 1
            self.live -= 1
            if self.mode == "console":
                for incident_id in list(self.incidents):
                    self.check_complete(incident_id)

    def console_frame(self, message: str, received: float) -> None:
        if '"type":"incident_reported"' not in message:
            return
        event = orjson.loads(message)["event"]
        seen = self.incidents.get(event["incident_id"])
        if seen is None:
            occurred = event["occurred_at"]
            self.incidents[event["incident_id"]] = [1, received, received, _epoch(occurred)]
        else:
            seen[0] += 1
            seen[2] = max(seen[2], received)
        self.check_complete(event["incident_id"])

    def check_complete(self, incident_id: int) -> None:
        seen = self.incidents[incident_id]
        if incident_id not in self.completed and seen[0] >= self.live:
            self.completed.add(incident_id)
            self.say(
                {
                    "complete": incident_id,
                    "count": seen[0],
                    "first": seen[1],
                    "last": seen[2],
                    "occurred_at": seen[3],
                }
            )

    async def tablet_frame(self, ws: Any, message: str, received: float, responder: str | None) -> None:
        if '"type":"task_assigned"' in message:
            event = orjson.loads(message)["event"]
            task_id = event["task_id"]
            self.tasks.append(
                {
                    "incident_id": event["incident_id"],
                    "task_id": task_id,
                    "responder_id": event["payload"]["responder_id"],
                    "tablet": responder,
                    "received": received,
                }
            )
            await ws.send(
                orjson.dumps(
                    {"type": "trigger", "id": f"a{task_id}", "task_id": task_id, "trigger": "accept"}
                ).decode()
            )
        elif message.startswith('{"type":"result"'):
            result = orjson.loads(message)
            if not result["ok"]:
                self.results[f"{result['id'][0]}:{result['error']['code']}"] += 1
                return
            task = result["task"]
            self.results[f"{result['id'][0]}:ok"] += 1
            if result["id"].startswith("a"):
                complete = {
                    "type": "trigger",
                    "id": f"c{task['id']}",
                    "task_id": task["id"],
                    "trigger": "complete",
                }
                await ws.send(orjson.dumps(complete).decode())

    async def close_all(self) -> dict[str, Any]:
        sockets, self.sockets = self.sockets, set()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)
        return {"open": self.live}

    def report(self) -> dict[str, Any]:
        return {
            "open": self.live,
            "frames": self.frames,
            "closed_codes": dict(self.closed_codes),
            "errors": dict(self.errors),
            "tasks": self.tasks,
            "results": dict(self.results),
            "rss_kib": rss_kib(os.getpid()),
        }

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        self.say({"started": os.getpid()})
        while line := await stdin.readline():
            command = orjson.loads(line)
            name = command["cmd"]
            if name == "open":
                self.say(await self.open(command["count"], command["first"]))
            elif name == "report":
                self.say(self.report())
            elif name == "forget":
                self.incidents.clear()
                self.completed.clear()
                self.tasks.clear()
                self.say({"forgot": True})
            elif name == "close":
                self.say(await self.close_all())
            elif name == "exit":
                break
        # The kernel closes every socket at once; a close handshake each would take longer than
        # the measurement did, and what the server does then is not measured.
        sys.stdout.flush()
        os._exit(0)


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("idle", "console", "tablet"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--tokens-file")
    parser.add_argument("--compression", choices=("off", "deflate"), default="off")
    args = parser.parse_args(argv)
    raise_fd_limit()
    tokens: list[str] = json.loads(Path(args.tokens_file).read_text()) if args.tokens_file else []
    worker = ClientWorker(args.mode, args.url, tokens, compression=args.compression == "deflate")
    asyncio.run(worker.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
