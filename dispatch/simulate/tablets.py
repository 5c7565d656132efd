"""Virtual tablets: one WebSocket per responder unit that confirms, accepts, drives, arrives, completes.

A tablet behaves like the person holding it: it confirms a task as soon as it shows, accepts
after a human delay (lognormal), sometimes never answers (the policy escalates) or declines
with a reason, then departs, reports positions along the way, arrives, and completes with a
short note. Every delay waits on the simulator's agenda. A dropped socket reconnects and
resumes after the last event it saw; cancelled tasks and refused triggers end a task quietly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from dispatch.config.model import Responder
from dispatch.simulate import texts
from dispatch.simulate.agenda import Action
from dispatch.simulate.fleet import Fleet, TaskCard
from dispatch.simulate.places import Point, distance_m, offset, toward

logger = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 15.0
SEEN_EVENTS = 2000
KEPT_TASKS = 200
FINAL = frozenset({"done", "declined", "expired", "cancelled", "refused"})
ACTIVE = frozenset({"accepted", "en_route", "on_scene"})
_DROPPED: dict[str, Any] = {"type": "result", "ok": False, "dropped": True}
_RANK = {"pending": 0, "sent": 1, "delivered": 2, "accepted": 3, "en_route": 4, "on_scene": 5}


class Tablet:
    def __init__(self, fleet: Fleet, unit: Responder, token: str, home: Point) -> None:
        self.fleet = fleet
        self.unit = unit
        self.token = token
        self.home = home
        self.position = home
        self.tasks: dict[int, TaskCard] = {}
        self.last_seq = 0
        self._seen: deque[int] = deque(maxlen=SEEN_EVENTS)
        self._seen_set: set[int] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._requests = itertools.count(1)
        self._backoff = 1.0
        self._rng = random.Random(f"{fleet.seed}/tablet/{unit.id}")

    # The socket --------------------------------------------------------------------------------

    async def connect(self) -> None:
        fleet = self.fleet
        if fleet.stopping:
            return
        try:
            ws = await asyncio.wait_for(
                fleet.session.ws_connect(
                    fleet.ws_url, headers={"Authorization": f"Bearer {self.token}"}, autoping=True
                ),
                REPLY_TIMEOUT_S,
            )
            hello = await asyncio.wait_for(ws.receive(), REPLY_TIMEOUT_S)
            if hello.type != aiohttp.WSMsgType.TEXT:
                await ws.close()
                raise ConnectionError(f"the server closed the socket ({ws.close_code})")
            await ws.send_str(orjson.dumps({"type": "resume", "after": self.last_seq}).decode())
        except (aiohttp.ClientError, ConnectionError, TimeoutError) as err:
            logger.info("tablet %s: cannot connect (%s); again in %.0f s", self.unit.id, err, self._backoff)
            self._retry()
            return
        if self._ws is None and self._reader is not None:
            self.fleet.tally.reconnects += 1
        self._ws = ws
        self._backoff = 1.0
        self._reader = asyncio.create_task(self._read(ws), name=f"tablet-{self.unit.id}")

    def _retry(self) -> None:
        if not self.fleet.stopping:
            # Jittered, as real apps do: a server restart is not met by every tablet at once.
            self.fleet.agenda.after(self._backoff * self._rng.uniform(0.5, 1.5), self.connect)
            self._backoff = min(self._backoff * 2, 30.0)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    try:
                        frame = orjson.loads(message.data)
                    except orjson.JSONDecodeError:
                        logger.warning("tablet %s: a frame that is not JSON", self.unit.id)
                        continue
                    if isinstance(frame, dict):
                        self._take(frame)
        finally:
            self._ws = None
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_result(_DROPPED)  # the task's next step waits for the resume
            if not self.fleet.stopping:
                logger.info("tablet %s: socket closed (%s); reconnecting", self.unit.id, ws.close_code)
                self._retry()

    async def close(self) -> None:
        ws, reader = self._ws, self._reader
        if ws is not None:
            await ws.close()
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _send(self, body: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(orjson.dumps(body).decode())
        except (aiohttp.ClientError, ConnectionError):
            return False
        return True

    async def _request(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Send a receipt or trigger and wait for its result; None when the socket went away."""
        request_id = f"{self.unit.id}-{next(self._requests)}"
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = reply
        try:
            if not await self._send({**body, "id": request_id}):
                return None
            result = await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
        except TimeoutError:
            return None
        finally:
            self._replies.pop(request_id, None)
        return None if result is _DROPPED else result

    # What the server says ----------------------------------------------------------------------

    def _take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "result":
            reply = self._replies.get(str(frame.get("id")))
            if reply is not None and not reply.done():
                reply.set_result(frame)
        elif kind == "event":
            seq = frame.get("seq")
            if not isinstance(seq, int) or seq in self._seen_set:
                return
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(seq)
            self._seen_set.add(seq)
            self.last_seq = max(self.last_seq, seq)
            self._event(seq, frame.get("event") or {})
        elif kind == "resumed":
            for card in self.tasks.values():
                if card.state in ACTIVE and not card.planned:
                    self._plan_next(card)

    def _event(self, seq: int, event: dict[str, Any]) -> None:
        kind, payload = event.get("type"), event.get("payload") or {}
        if kind == "incident_escalated":
            self.fleet.tally.escalations.add(seq)
            return
        task_id = event.get("task_id")
        if not isinstance(task_id, int) or payload.get("responder_id") != self.unit.id:
            return
        if kind == "task_assigned":
            if task_id not in self.tasks:
                self._assigned(task_id, event, payload)
            return
        card = self.tasks.get(task_id)
        if card is None:
            return
        if kind == "task_expired" and card.state not in FINAL:
            self.fleet.tally.unanswered += 1
        self._move(card, payload.get("to_state"))

    def _move(self, card: TaskCard, state: Any) -> None:
        """Follow the server's word on the task's state, never backwards (replays come late)."""
        if not isinstance(state, str) or card.state in FINAL:
            return
        if state in FINAL or _RANK.get(state, -1) > _RANK.get(card.state, -1):
            card.state = state

    def _assigned(self, task_id: int, event: dict[str, Any], payload: dict[str, Any]) -> None:
        lat, lon = payload.get("lat"), payload.get("lon")
        target = Point(lat, lon) if isinstance(lat, float | int) and isinstance(lon, float | int) else None
        deadline = payload.get("accept_deadline_at")
        card = TaskCard(
            id=task_id,
            incident_id=int(event.get("incident_id") or 0),
            category=str(payload.get("category") or ""),
            target=target,
            deadline=float(deadline) if isinstance(deadline, float | int) else None,
        )
        if len(self.tasks) >= KEPT_TASKS:
            # Ended tasks are only kept to recognise their events; new ones never replay old ones.
            for ended in [number for number, each in self.tasks.items() if each.state in FINAL]:
                del self.tasks[ended]
        self.tasks[task_id] = card
        self.fleet.tally.tasks += 1
        fleet, habits = self.fleet, self.fleet.habits
        fate = random.Random(f"{fleet.seed}/{self.unit.id}/{task_id}")
        self._plan(card, fleet.scaled(fate.uniform(*habits.receipt_s)), self._receipt, keep=False)
        roll = fate.random()
        if roll < habits.never_answer:
            return  # the phone stays in the pocket: the step's deadline escalates
        if roll < habits.never_answer + habits.decline:
            self._plan(card, fleet.scaled(fate.uniform(5.0, 20.0)), self._decline)
            return
        delay = fleet.scaled(fate.lognormvariate(math.log(habits.accept_median_s), habits.accept_spread))
        if card.deadline is not None:
            # People answer an urgent task faster: before its deadline, if they answer at all.
            delay = min(delay, 0.85 * max(0.0, card.deadline - fleet.agenda.clock.now()))
        self._plan(card, delay, self._accept)

    # What the person does ----------------------------------------------------------------------

    def _plan(
        self,
        card: TaskCard,
        delay: float,
        step: Callable[[TaskCard], Awaitable[None]],
        *,
        keep: bool = True,
    ) -> None:
        if keep:
            card.planned = True

        async def act() -> None:
            if keep:
                card.planned = False
            if card.state not in FINAL:
                await step(card)

        self.fleet.agenda.after(delay, act)

    def _plan_next(self, card: TaskCard) -> None:
        """Carry on with a task found underway after a reconnect or a restart."""
        scaled = self.fleet.scaled
        if card.state == "accepted":
            self._plan(card, scaled(3.0), self._depart)
        elif card.state == "en_route":
            self._plan(card, scaled(5.0), self._arrive)
        elif card.state == "on_scene":
            self._plan(card, scaled(30.0), self._complete)

    async def _trigger(self, card: TaskCard, trigger: str, note: str | None = None) -> bool:
        body: dict[str, Any] = {"type": "trigger", "task_id": card.id, "trigger": trigger}
        if note:
            body["note"] = note
        result = await self._request(body)
        if result is None:
            return False
        if not result.get("ok"):
            # Cancelled or expired meanwhile, most likely: the task ends here for this tablet.
            error = result.get("error") or {}
            logger.debug("tablet %s: %s of task %d refused: %s", self.unit.id, trigger, card.id, error)
            if card.state not in FINAL:
                self.fleet.tally.refused += 1
                state = error.get("state")
                card.state = state if state in FINAL else "refused"
            return False
        task = result.get("task") or {}
        self._move(card, task.get("state"))
        return True

    async def _receipt(self, card: TaskCard) -> None:
        if card.state in ("pending", "sent"):
            result = await self._request({"type": "receipt", "task_id": card.id})
            if result is not None and result.get("ok"):
                self._move(card, (result.get("task") or {}).get("state"))

    async def _accept(self, card: TaskCard) -> None:
        if _RANK.get(card.state, 9) <= _RANK["delivered"] and await self._trigger(card, "accept"):
            self.fleet.tally.accepted += 1
            self._plan(card, self.fleet.scaled(self._rng.uniform(*self.fleet.habits.depart_s)), self._depart)

    async def _decline(self, card: TaskCard) -> None:
        if _RANK.get(card.state, 9) <= _RANK["delivered"]:
            reason = self._rng.choice(texts.DECLINE_REASONS)
            if await self._trigger(card, "decline", reason):
                self.fleet.tally.declined += 1

    async def _depart(self, card: TaskCard) -> None:
        if card.state != "accepted" or not await self._trigger(card, "depart"):
            return
        habits, scaled = self.fleet.habits, self.fleet.scaled
        start = self.position
        target = card.target or offset(self.home, self._rng.uniform(-400, 400), self._rng.uniform(-400, 400))
        low, high = habits.travel_s
        # Compressed: a trip across a village takes a minute, not half an hour.
        travel = scaled(min(high, max(low, low + distance_m(start, target) / 100.0)))
        steps = max(1, int(travel / scaled(habits.position_every_s)))
        for number in range(1, steps):
            point = toward(start, target, number / steps)
            self.fleet.agenda.after(travel * number / steps, self._mover(card, point))
        card.target = target
        self._plan(card, travel, self._arrive)

    def _mover(self, card: TaskCard, point: Point) -> Action:
        async def move() -> None:
            if card.state == "en_route":
                await self.report(point)

        return move

    async def _arrive(self, card: TaskCard) -> None:
        if card.state != "en_route":
            return
        if card.target is not None:
            await self.report(card.target)
        if await self._trigger(card, "arrive"):
            self.fleet.tally.arrived += 1
            stay = self.fleet.scaled(self._rng.uniform(*self.fleet.habits.on_scene_s))
            self._plan(card, stay, self._complete)

    async def _complete(self, card: TaskCard) -> None:
        if card.state != "on_scene":
            return
        note = texts.completion_note(card.category, self._rng.randrange(10))
        if await self._trigger(card, "complete", note):
            self.fleet.tally.done += 1
            if self.fleet.on_done is not None:
                self.fleet.on_done(card.incident_id, card.category)

    async def report(self, point: Point) -> None:
        self.position = point
        await self._send({"type": "position", "lat": point.lat, "lon": point.lon})

    async def idle(self) -> None:
        """Now and then, a position near home (drifting back after a task); forever."""
        fleet = self.fleet
        if fleet.stopping:
            return
        if not any(card.state in ACTIVE for card in self.tasks.values()):
            drifted = toward(self.position, self.home, 0.5)
            await self.report(offset(drifted, self._rng.uniform(-80, 80), self._rng.uniform(-80, 80)))
        fleet.agenda.after(fleet.scaled(self._rng.uniform(*fleet.habits.idle_every_s)), self.idle)
