"""The simulator's run: the script and the tablets' agenda paced on one clock, sent, counted, shown.

Everything waits on one timeline (the scenario's next happening, or the agenda's next action),
and the runner lets the answers of one moment come back before it moves on: a slow server
slows the simulation down (the progress line says how far behind) instead of being flooded,
and with a stepped clock a test plays ten minutes in a second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import signal
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

import aiohttp

from dispatch.config.model import Config
from dispatch.simulate.access import Credentials
from dispatch.simulate.agenda import Agenda
from dispatch.simulate.clock import SimulationClock, WallClock
from dispatch.simulate.desk import Desk
from dispatch.simulate.devices import DEFAULT_GATEWAY, sensor_alert, sensor_topic
from dispatch.simulate.fleet import Fleet, Habits
from dispatch.simulate.gateways import frigate_event, hotline_entry
from dispatch.simulate.happenings import FrigateMessage, Happening, SensorReading
from dispatch.simulate.places import Point
from dispatch.simulate.prefecture import PrefectureDesk
from dispatch.simulate.scenario import SCENARIOS
from dispatch.simulate.senders import HttpSender, MqttSensors
from dispatch.simulate.tablets import Tablet
from dispatch.simulate.tally import FIRST_ERRORS_SHOWN, Progress, Tally, duration_text

logger = logging.getLogger(__name__)

CONNECT_SPREAD_S = 0.02
"""Between two tablets logging on at the start: a fleet does not hit the server at once."""
TICK_S = 0.5
"""The runner wakes on this grid (at rate 1): what falls due within one tick goes out together,
which nobody watching can tell, and which keeps a stepped test run to a few hundred steps."""


def stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `docker stop`) ends the running task as Ctrl-C does, cleanly."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform or thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


@dataclass(frozen=True)
class Settings:
    url: str = "http://127.0.0.1:8080"
    scenario: str = "flood-day"
    rate: float = 1.0
    """1.0: a few new incidents a minute; 2.0 plays the day twice as fast."""
    duration: float | None = None
    """Seconds of the run on its clock; None: until stopped."""
    seed: int = 0
    focus: str | None = None
    """A street that gets a steady stream of events (the demo's human-held unit)."""
    mqtt_url: str | None = None
    """Sensor readings over this broker instead of HTTP."""
    prefecture_url: str | None = None
    """The prefecture's server: its duty desk is played too (with `Credentials.prefecture`)."""
    habits: Habits = field(default_factory=Habits)


class Simulator:
    def __init__(
        self,
        config: Config,
        settings: Settings,
        credentials: Credentials,
        *,
        clock: SimulationClock | None = None,
        out: TextIO | None = None,
        tty: bool | None = None,
        intro: bool = True,
    ) -> None:
        self.config = config
        self.settings = settings
        self.credentials = credentials
        self.clock: SimulationClock = clock or WallClock()
        self.out = out or sys.stdout
        self.tally = Tally()
        self.scenario = SCENARIOS[settings.scenario](config, settings.seed, settings.focus)
        self.label = f"{config.root.name} {settings.scenario} seed {settings.seed}"
        self.progress = Progress(
            self.out, self.tally, self.label, tty=self.out.isatty() if tty is None else tty
        )
        self.agenda = Agenda(self.clock)
        self.intro = intro
        self._in_flight: set[asyncio.Task[None]] = set()
        self.desk: Desk | None = None
        self._departments = frozenset(config.department_by_id)
        self._start = 0.0
        self._behind = 0.0

    def epoch(self, at: float) -> float:
        """Scenario seconds → this run's clock."""
        return self._start + at / self.settings.rate

    async def run(self) -> Tally:
        settings, clock = self.settings, self.clock
        self._start = clock.now()
        # No pool limit: every tablet holds a socket; HttpSender bounds the requests itself.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            sender = HttpSender(session, settings.url, self.tally, self.report)
            mqtt = self._mqtt()
            desk = self.desk = None
            if self.credentials.desk is not None:
                desk = self.desk = Desk(
                    sender,
                    self.credentials.desk,
                    self.agenda,
                    rate=settings.rate,
                    seed=settings.seed,
                )
            if settings.prefecture_url is not None and self.credentials.prefecture is not None:
                above = HttpSender(session, settings.prefecture_url, self.tally, self.report)
                PrefectureDesk(
                    above, self.credentials.prefecture, self.agenda, rate=settings.rate, seed=settings.seed
                ).start()
            ws_url = settings.url.rstrip("/").replace("http", "ws", 1) + "/ws"
            fleet = Fleet(
                session,
                ws_url,
                self.agenda,
                settings.rate,
                settings.seed,
                self.tally,
                settings.habits,
                on_done=desk.task_done if desk is not None else None,
            )
            tablets = self._tablets(fleet)
            if self.intro:
                self.progress.note(
                    f"dispatch simulate: {self.label} → {settings.url}: rate {settings.rate:g}, "
                    f"{duration_text(settings.duration) if settings.duration else 'until Ctrl-C'}, "
                    f"{len(tablets)} virtual tablets"
                    + (f", sensors over MQTT {mqtt.broker}" if mqtt else "")
                    + f" (repeat with --seed {settings.seed})"
                )
            self.agenda.at(self._start + self.progress.every, self._show)
            try:
                await self._play(sender, mqtt)
            finally:
                fleet.stopping = True
                await self._settle()
                await asyncio.gather(*(tablet.close() for tablet in tablets))
                if mqtt is not None:
                    await mqtt.close()
                self.progress.finish(clock.now() - self._start)
        return self.tally

    def _mqtt(self) -> MqttSensors | None:
        url = self.settings.mqtt_url or self.config.mqtt.url
        if url is None:
            return None
        gateway = urlsplit(url).username or next(iter(self.config.mqtt.sensor_gateways), DEFAULT_GATEWAY)
        topic = sensor_topic(self.config.mqtt.prefix, gateway)
        return MqttSensors(url, topic, self.tally, self.report, self.clock.now)

    def _tablets(self, fleet: Fleet) -> list[Tablet]:
        tablets: list[Tablet] = []
        rng = random.Random(f"{self.settings.seed}/fleet")
        for number, (unit_id, token) in enumerate(sorted(self.credentials.responders.items())):
            unit = self.config.responder_by_id.get(unit_id)
            if unit is None:
                continue
            tablet = Tablet(fleet, unit, token, Point(unit.home.lat, unit.home.lon))
            tablets.append(tablet)
            self.agenda.at(self._start + number * CONNECT_SPREAD_S, tablet.connect)
            first = rng.uniform(5.0, fleet.habits.idle_every_s[1]) / self.settings.rate
            self.agenda.at(self._start + first, tablet.idle)
        return tablets

    async def _play(self, sender: HttpSender, mqtt: MqttSensors | None) -> None:
        script = self.scenario.happenings()
        upcoming = next(script, None)
        end = None if self.settings.duration is None else self._start + self.settings.duration
        while True:
            # The agenda always holds the next progress line, so there is always a next moment.
            due = self.agenda.next_time() or math.inf
            if upcoming is not None:
                due = min(due, self.epoch(upcoming.at))
            if end is not None and due > end:
                await self._settle()
                await self.clock.sleep(end - self.clock.now())
                return
            await self._settle()
            tick = TICK_S / self.settings.rate
            due = self._start + math.ceil((due - self._start) / tick - 1e-9) * tick
            wait = due - self.clock.now()
            if wait > 0:
                await self.clock.sleep(wait)
            now = self.clock.now()
            self._behind = max(0.0, now - due)
            while upcoming is not None and self.epoch(upcoming.at) <= now:
                self._spawn(self._send(upcoming, sender, mqtt))
                upcoming = next(script, None)
            for action in self.agenda.due(now):
                self._spawn(action())

    async def _send(self, happening: Happening, sender: HttpSender, mqtt: MqttSensors | None) -> None:
        token = self.credentials.gateway
        observed = self.epoch(happening.at)
        if isinstance(happening, SensorReading):
            body = sensor_alert(happening, observed)
            if mqtt is not None and await mqtt.publish(body):
                return
            incident_id = await sender.alert("/api/v1/alerts", body, token)
        elif isinstance(happening, FrigateMessage):
            await sender.alert("/api/v1/alerts/frigate", frigate_event(happening, self.epoch), token)
            return
        else:
            incident_id = await sender.alert(
                "/api/v1/hotline/calls", hotline_entry(happening, observed), token
            )
        if incident_id is not None and self.desk is not None:
            self.desk.incident_seen(incident_id, happening.category, self._departments)

    async def _show(self) -> None:
        self.progress.show(self.clock.now() - self._start, self._behind)
        self.agenda.after(self.progress.every, self._show)

    def report(self, kind: str, message: str) -> None:
        """Count an error by kind; show the first of each of the first few kinds."""
        kinds = self.tally.error_kinds
        seen = kinds.get(kind, 0)
        kinds[kind] = seen + 1
        logger.debug("%s", message)
        if seen == 0 and len(kinds) <= FIRST_ERRORS_SHOWN:
            self.progress.note(f"dispatch simulate: {message}")
        elif seen == 0 and len(kinds) == FIRST_ERRORS_SHOWN + 1:
            self.progress.note("dispatch simulate: more kinds of errors; from now on they are only counted")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._guard(work))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug of ours must not end a demo: it is logged, counted, and the day goes on.
            self.tally.errors += 1
            logger.exception("simulator action failed")

    async def _settle(self) -> None:
        """Wait for the requests of this moment: time moves on only once they are answered."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
