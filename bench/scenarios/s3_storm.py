"""One S3 storm against `dispatch serve`: send the plan's messages on time, watch, then collect.

The server runs on the default embedded setup (a fresh SQLite file, the in-process bus) with a
config that adds units to every street and town (bench.s3); every responder has a tablet on the
WebSocket (bench.harness.ws_worker's `tablet` mode: it accepts, then completes, each task at once,
so its unit is free again). Messages go out open-loop at their planned times; a sensor's messages
go out in order, each after the answer to the one before (as Alertmanager notifies one
aggregation group at a time). The server's memory is sampled all along; after the last message,
the run waits until every incident opened has a task on some tablet (or no incident got its
first task for STALL_S), then reads every alert it was answered about back from the database
file, while the server still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness.http import Posted, post_alert
from bench.harness.servers import Server
from bench.harness.system import tree_memory_kib
from bench.harness.tokens import Tokens
from bench.harness.ws_clients import ClientProcesses, ws_url
from bench.scenarios.ws_server import dispatch_server, server_troubles
from bench.workloads.storm import ALARM, CALL, Bodies, Message, Plan

MEMORY_EVERY_S = 0.25
PROGRESS_EVERY_S = 5.0
DRAIN_POLL_S = 0.5
STALL_S = 15.0
"""After the last answer, the wait for tasks gives up when none came for this long."""
CONNECTIONS = 512
KEEPALIVE_S = 5.0
"""Idle connections are dropped before the server's web.header_timeout (10 s) closes them."""
RETRIES = 2
WARM_CONNECTIONS = 200
UNTASKED_SHOWN = 20


@dataclass
class Sent:
    """One message as it went: when it was due and sent, what was answered, the key it names."""

    kind: str
    target: int
    due: float
    posted: Posted
    key: tuple[str, str]


@dataclass
class Collected:
    """Everything a run saw, for scoring (bench.scenarios.s3_report)."""

    began: float
    sent: list[Sent] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)
    peak_hwm_kib: int = 0
    stored: dict[int, tuple[str, str, int, float | None]] = field(default_factory=dict)
    stored_incidents: int = 0
    stored_tasks: int = 0
    untasked: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Incidents answered that no tablet got a task for: their state and events (up to 20)."""
    tablets: int = 0
    tablet_failures: dict[str, int] = field(default_factory=dict)
    tablet_results: dict[str, int] = field(default_factory=dict)
    tablet_closed: dict[str, int] = field(default_factory=dict)
    drain_wait_s: float = 0.0
    retried: list[str] = field(default_factory=list)
    """Messages sent again after the connection broke before an answer (why)."""
    troubles: dict[str, Any] = field(default_factory=dict)


async def storm_run(plan: Plan, tokens: Tokens, template: Path, config: Path, directory: Path) -> Collected:
    """Serve, connect the tablets, play the storm, wait for the tasks, read the database back."""
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(dispatch_server(template, config))
        tablets = await stack.enter_async_context(
            ClientProcesses("tablet", ws_url(server), list(tokens.responders.values()), 1, directory, False)
        )
        opened = await tablets.open_to(len(tokens.responders))
        connector = aiohttp.TCPConnector(
            limit=CONNECTIONS, limit_per_host=CONNECTIONS, keepalive_timeout=KEEPALIVE_S
        )
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300))
        )
        await _warm(session, server.url)
        run = Collected(began=time.time() + 0.5, tablets=opened["open"], tablet_failures=opened["failures"])
        print(f"  {opened['open']:,} tablets connected ({opened['seconds']} s); the storm begins", flush=True)
        watch = asyncio.create_task(_watch_memory(server.pid, run))
        progress = asyncio.create_task(_progress(plan, run, tablets, server.pid))
        try:
            await _play(plan, Bodies(plan), session, server.url, tokens.gateway, run)
            ended = time.perf_counter()
            run.tasks = await _drain(run, tablets)
            run.drain_wait_s = time.perf_counter() - ended
        finally:
            progress.cancel()
            watch.cancel()
            await asyncio.gather(progress, watch, return_exceptions=True)
        run.peak_hwm_kib = tree_memory_kib(server.pid)["hwm"]
        report = await tablets.report()
        run.tablet_results, run.tablet_closed = report["results"], report["closed_codes"]
        _read_back(database_of(server), run)
    run.troubles = server_troubles(server.log_text)
    return run


async def _warm(session: aiohttp.ClientSession, url: str) -> None:
    """WARM_CONNECTIONS keep-alive connections opened before the storm, as gateways hold theirs."""

    async def one() -> None:
        async with session.get(f"{url}/healthz") as response:
            await response.read()

    await asyncio.gather(*(one() for _ in range(WARM_CONNECTIONS)))


def database_of(server: Server) -> Path:
    """The SQLite file bench.scenarios.ws_server's server runs on (beside its log)."""
    return server.log.parent / "bench.db"


async def _play(
    plan: Plan, bodies: Bodies, session: aiohttp.ClientSession, url: str, token: str, run: Collected
) -> None:
    """Every message at its time, open-loop; a sensor's after its previous one's answer."""
    last_of: dict[int, asyncio.Task[None]] = {}
    pending: list[asyncio.Task[None]] = []

    async def send(message: Message, due: float, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.shield(before)
        path, body = bodies.body(message)
        posted = await post_alert(session, url, token, body, path)
        for _ in range(RETRIES):
            if posted.status != 0:
                break
            # No answer (the connection broke): a gateway sends it again, as Alertmanager does.
            run.retried.append(f"{message.kind}: {posted.body.get('error')}")
            again = await post_alert(session, url, token, body, path)
            posted = Posted(again.status, posted.sent, again.answered, again.body)
        run.sent.append(Sent(message.kind, message.target, due, posted, bodies.key(message)))

    start = time.perf_counter() + (run.began - time.time())
    for message in plan.messages:
        delay = start + message.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        before = None if message.kind == CALL else last_of.get(message.target)
        task = asyncio.create_task(send(message, run.began + message.at, before))
        if message.kind != CALL:
            last_of[message.target] = task
        pending.append(task)
    await asyncio.gather(*pending)


def _incident(each: Sent) -> int | None:
    """The incident a 202 named (an Alertmanager result's, or a receipt's); None otherwise."""
    if each.posted.status != 202:
        return None
    body = each.posted.body
    if "results" in body:
        incident: int | None = body["results"][0]["incident_id"]
        return incident
    return int(body["incident_id"]) if "incident_id" in body else None


async def _drain(run: Collected, tablets: ClientProcesses) -> list[dict[str, Any]]:
    """Poll the tablets until every incident answered has a task, or no incident got its first
    task for STALL_S (later tasks of incidents already tasked do not count: steps climb)."""
    incidents = {incident for each in run.sent if (incident := _incident(each)) is not None}
    seen, changed = -1, time.monotonic()
    while True:
        tasks: list[dict[str, Any]] = (await tablets.report())["tasks"]
        tasked = incidents & {task["incident_id"] for task in tasks}
        if tasked == incidents:
            return tasks
        if len(tasked) != seen:
            seen, changed = len(tasked), time.monotonic()
        elif time.monotonic() - changed > STALL_S:
            return tasks
        await asyncio.sleep(DRAIN_POLL_S)


async def _watch_memory(pid: int, run: Collected) -> None:
    while True:
        run.memory.append((time.time(), tree_memory_kib(pid)["rss"]))
        await asyncio.sleep(MEMORY_EVERY_S)


async def _progress(plan: Plan, run: Collected, tablets: ClientProcesses, pid: int) -> None:
    """A line every PROGRESS_EVERY_S: messages due, sent and answered, incidents, tasks, memory."""
    alarms = plan.counts()[ALARM]
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        now = time.time()
        due = sum(1 for message in plan.messages if run.began + message.at <= now)
        answered = [each for each in run.sent if each.posted.answered <= now]
        errors = sum(1 for each in answered if each.posted.status != 202)
        alarms_sent = sum(1 for each in run.sent if each.kind == ALARM)
        incidents = {incident for each in answered if (incident := _incident(each)) is not None}
        tasks = (await tablets.report())["tasks"]
        tasked = {task["incident_id"] for task in tasks}
        print(
            f"  t={now - run.began:6.1f} s  due {due:,}/{len(plan.messages):,}  answered {len(answered):,}"
            f" ({errors} errors)  alarms {alarms_sent:,}/{alarms:,}  incidents {len(incidents):,}, "
            f"waiting for a task {len(incidents - tasked):,}  tasks {len(tasks):,}  "
            f"server RSS {tree_memory_kib(pid)['rss'] / 1024:,.0f} MiB  load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


def _story(connection: sqlite3.Connection, incident: int) -> dict[str, Any]:
    """An incident's state, place and owner, and the types of its events in order."""
    from dispatch.storage.tables import event_table, incident_table

    columns = ("state", "category", "jurisdiction_id", "owner_jurisdiction_id", "step_index", "policy_name")
    row = connection.execute(
        f'SELECT {", ".join(columns)} FROM "{incident_table.name}" WHERE id = ?', (incident,)
    ).fetchone()
    events = connection.execute(
        f'SELECT type FROM "{event_table.name}" WHERE incident_id = ? ORDER BY seq', (incident,)
    ).fetchall()
    return dict(zip(columns, row or (), strict=False)) | {"events": [each[0] for each in events]}


def _read_back(database: Path, run: Collected) -> None:
    """Every stored alert (id → source, source_event_id, incident, resolved_at), and the counts."""
    from dispatch.storage.tables import alert_table, incident_table, task_table

    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        query = f'SELECT id, source, source_event_id, incident_id, resolved_at FROM "{alert_table.name}"'
        run.stored = {row[0]: (row[1], row[2], row[3], row[4]) for row in connection.execute(query)}

        def count(table: str) -> int:
            return int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

        run.stored_incidents, run.stored_tasks = count(incident_table.name), count(task_table.name)
        tasked = {task["incident_id"] for task in run.tasks}
        answered = {incident for each in run.sent if (incident := _incident(each)) is not None}
        for incident in sorted(answered - tasked)[:UNTASKED_SHOWN]:
            run.untasked[incident] = _story(connection, incident)
    finally:
        connection.close()
