"""Prometheus metrics: what happened is counted where it happens, state is read at scrape time.

Each app has its own `CollectorRegistry` (tests start many apps in one process). Counters and
histograms cost a dict lookup and a lock per increment; nothing here queries the database on a
request. Gauges of stored state (open incidents, tasks, deadlines) come from three grouped
queries run when Prometheus scrapes (`read_state`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from dispatch.intake.pipeline import Received
from dispatch.storage.tables import incident_table, outbound_table, task_table
from state_machines import OPEN_INCIDENT_STATES

intake_channel: ContextVar[str] = ContextVar("intake_channel", default="other")
"""The way an alert arrived (api, frigate, hotline, cap, alertmanager, mqtt, mqtt_frigate).

Known only at the edge (an HTTP route, the MQTT link), several calls above where alerts are
counted; a context variable carries it there without threading it through every gateway."""


@contextmanager
def arriving_on(channel: str) -> Iterator[None]:
    """Alerts received inside this block are counted under `channel`."""
    token = intake_channel.set(channel)
    try:
        yield
    finally:
        intake_channel.reset(token)


_OPEN_STATES = sorted(state.value for state in OPEN_INCIDENT_STATES)

_open_by_tier = (
    sa.select(incident_table.c.owner_tier, sa.func.count())
    .where(incident_table.c.state.in_(_OPEN_STATES))
    .group_by(incident_table.c.owner_tier)
)
_tasks_by_state = sa.select(task_table.c.state, sa.func.count()).group_by(task_table.c.state)
_outbound_queued = (
    sa.select(outbound_table.c.destination, sa.func.count())
    .where(outbound_table.c.state == "queued")
    .group_by(outbound_table.c.destination)
)


@dataclass(frozen=True)
class StoredState:
    """What the database holds now, as the scrape-time gauges show it."""

    open_incidents_by_tier: dict[str, int] = field(default_factory=dict)
    tasks_by_state: dict[str, int] = field(default_factory=dict)
    deadlines_pending: int = 0
    deadlines_overdue: int = 0
    outbound_queued: dict[str, int] = field(default_factory=dict)


def read_state(connection: sa.Connection, now: float) -> StoredState:
    """Four grouped queries on indexed columns; run per scrape, never per request."""
    due = incident_table.c.step_deadline_at
    deadlines = sa.select(sa.func.count(due), sa.func.count(sa.case((due <= now, 1)))).where(due.is_not(None))
    pending, overdue = connection.execute(deadlines).one()
    return StoredState(
        open_incidents_by_tier={tier: count for tier, count in connection.execute(_open_by_tier)},
        tasks_by_state={state: count for state, count in connection.execute(_tasks_by_state)},
        deadlines_pending=pending,
        deadlines_overdue=overdue,
        outbound_queued={destination: count for destination, count in connection.execute(_outbound_queued)},
    )


class Metrics:
    """The counters and histograms of one server, in its own registry.

    Under `serve --workers N` (PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported)
    each process counts into its own files in that folder, and a scrape of any process sums them
    all: prometheus_client's multiprocess mode."""

    def __init__(self) -> None:
        self.multiprocess = values.ValueClass is not values.MutexValue
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.alerts_received = Counter(
            "dispatch_alerts_received",
            "Alerts stored (first time their source and source_event_id were seen), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.alerts_duplicate = Counter(
            "dispatch_alerts_duplicate",
            "Alerts answered as duplicates (source and source_event_id seen before), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.alerts_refused = Counter(
            "dispatch_alerts_refused",
            "Intake requests answered 4xx/5xx, by channel and error code (invalid, unauthorized …).",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "dispatch_intake_request_seconds",
            "Time from an intake request's arrival to its answer (202 only once committed).",
            ["channel"],
            registry=self.registry,
        )
        self.writer_batch_size = Histogram(
            "dispatch_writer_batch_size",
            "Commands committed together in one database transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.writer_commit_seconds = Histogram(
            "dispatch_writer_commit_seconds",
            "Time the single writer spends on one group commit, running its commands included.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.outbound = {
            outcome: Counter(
                f"dispatch_outbound_{outcome}",
                description,
                ["destination"],
                registry=self.registry,
            )
            for outcome, description in (
                ("delivered", "Outbox messages the destination accepted (2xx), by destination."),
                ("failures", "Outbox attempts that did not get through (retried later), by destination."),
                ("refused", "Outbox messages the destination refused for good (4xx), by destination."),
            )
        }

        # Children by channel, looked up once: `labels()` costs more than the increment itself.
        self._received: dict[str, tuple[Any, Any]] = {}
        self._intake_seconds: dict[str, Any] = {}

    def exposition(self, *collectors: Collector) -> CollectorRegistry:
        """What a scrape shows: this registry, or the sum over every process and `collectors`."""
        if not self.multiprocess:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        for collector in collectors:
            registry.register(collector)
        return registry

    def count_received(self, received: Sequence[Received]) -> None:
        channel = intake_channel.get()
        children = self._received.get(channel)
        if children is None:
            children = self._received[channel] = (
                self.alerts_received.labels(channel),
                self.alerts_duplicate.labels(channel),
            )
        duplicates = sum(1 for each in received if each.duplicate)
        if duplicates:
            children[1].inc(duplicates)
        if len(received) > duplicates:
            children[0].inc(len(received) - duplicates)

    def observe_intake(self, channel: str, seconds: float) -> None:
        child = self._intake_seconds.get(channel)
        if child is None:
            child = self._intake_seconds[channel] = self.intake_seconds.labels(channel)
        child.observe(seconds)

    def count_outbound(self, destination: str, outcome: str) -> None:
        """An outbox attempt's outcome: delivered, failures or refused."""
        self.outbound[outcome].labels(destination).inc()

    def observe_commit(self, commands: int, seconds: float) -> None:
        """Called on the writer thread after each successful group commit (the client locks)."""
        self.writer_batch_size.observe(commands)
        self.writer_commit_seconds.observe(seconds)
