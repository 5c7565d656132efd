"""GET /api/v1/stats: figures from the stored events, exact to the second with the injected clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatch.events.catalog import DomainEvent
from dispatch.shared.clock import ManualClock, to_rfc3339
from tests.conftest import Harness
from tests.factories import EAST_N, WEST_N, WEST_S, alert
from web.stats import StatsCache

ZONE = ZoneInfo("Asia/Shanghai")
NO_TIMES = {"count": 0, "median_s": None, "p90_s": None}


async def _stats(server: Harness, query: str = "", *, expect: int = 200, **auth: Any) -> Any:
    response = await server.client.get(
        f"/api/v1/stats{query}", headers=server.auth(**(auth or {"role": "admin"}))
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def _task(server: Harness, incident_id: int, responder: str) -> int:
    incident = await server.incident(incident_id)
    task_id: int = next(task["id"] for task in incident["tasks"] if task["responder_id"] == responder)
    return task_id


def _by(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {item[key]: item for item in items}


def _times(median: float, count: int = 1) -> dict[str, Any]:
    return {"count": count, "median_s": median, "p90_s": median}


async def test_stats_empty_world_is_all_zeros(server: Harness, clock: ManualClock) -> None:
    stats = await _stats(server)

    midnight = datetime.fromtimestamp(clock.now(), ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    assert stats["since"] == to_rfc3339(midnight.timestamp())
    assert stats["timezone"] == "Asia/Shanghai"
    assert stats["open"]["total"] == stats["open"]["overdue"] == 0
    assert {each["count"] for each in stats["open"]["by_state"]} == {0}
    assert [each["grade"] for each in stats["open"]["by_severity"]] == ["I", "II", "III", "IV"]
    assert [each["category"] for each in stats["open"]["by_category"]] == ["waterlogging", "vending"]
    assert stats["incidents"] == [] and stats["incidents_truncated"] is False
    assert {key: value for key, value in stats["period"].items() if key not in ("accept", "arrive")} == {
        "opened": 0,
        "resolved": 0,
        "closed": 0,
        "cancelled": 0,
        "escalated": 0,
        "delegated": 0,
        "unanswered": 0,
    }
    assert [tier["tier"] for tier in stats["tiers"]] == ["city", "town", "street"]
    assert all(tier["accept"] == tier["arrive"] == NO_TIMES for tier in stats["tiers"])
    assert [town["town"] for town in stats["towns"]] == ["west", "east"]
    assert len(stats["trend"]) == 24
    assert stats["trend"][-1]["hour"] == datetime.fromtimestamp(clock.now(), ZONE).hour
    assert {(hour["opened"], hour["resolved"]) for hour in stats["trend"]} == {(0, 0)}


async def test_stats_response_times_per_tier_and_town(server: Harness, clock: ManualClock) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    task_id = await _task(server, incident_id, "grid-west-n-1")

    clock.advance(30)
    await server.task_trigger(task_id, "accept", "grid-west-n-1")
    clock.advance(60)
    await server.task_trigger(task_id, "arrive", "grid-west-n-1")
    stats = await _stats(server)

    assert stats["period"]["opened"] == 1
    assert stats["period"]["accept"] == _times(30.0)
    assert stats["period"]["arrive"] == _times(90.0)
    tiers = _by(stats["tiers"], "tier")
    assert (tiers["street"]["accept"], tiers["street"]["arrive"]) == (_times(30.0), _times(90.0))
    assert tiers["town"]["accept"] == tiers["city"]["accept"] == NO_TIMES
    assert tiers["street"]["open"] == 1
    towns = _by(stats["towns"], "town")
    assert (towns["west"]["accept"], towns["west"]["arrive"]) == (_times(30.0), _times(90.0))
    assert towns["east"]["accept"] == NO_TIMES
    assert (towns["west"]["open"], towns["west"]["opened"], towns["east"]["open"]) == (1, 1, 0)
    assert _by(stats["open"]["by_state"], "state")["on_scene"]["count"] == 1
    [shown] = stats["incidents"]
    assert (shown["id"], shown["town"], shown["state"], shown["location"]) == (
        incident_id,
        "west",
        "on_scene",
        WEST_N,
    )


async def test_stats_median_and_p90_of_several_tasks(server: Harness, clock: ManualClock) -> None:
    # Three incidents in three streets, accepted after 10, 20 and 60 seconds.
    places = [("grid-west-n-1", WEST_N), ("grid-west-s-1", WEST_S), ("grid-east-n-1", EAST_N)]
    tasks = []
    for number, (unit, place) in enumerate(places):
        incident_id = (await server.post_alert(alert(f"e{number}", location=place)))["incident_id"]
        tasks.append((await _task(server, incident_id, unit), unit))
    for (task_id, unit), wait in zip(tasks, [10, 10, 40], strict=True):
        clock.advance(wait)
        await server.task_trigger(task_id, "accept", unit)

    stats = await _stats(server)

    assert stats["period"]["accept"] == {"count": 3, "median_s": 20.0, "p90_s": 60.0}
    towns = _by(stats["towns"], "town")
    assert towns["west"]["accept"] == {"count": 2, "median_s": 15.0, "p90_s": 20.0}
    assert towns["east"]["accept"] == _times(60.0)


async def test_stats_escalation_resolution_and_the_town_tier(server: Harness, clock: ManualClock) -> None:
    incident_id = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    clock.advance(60)
    assert await server.fire_deadlines() == 1  # nobody at the street accepted: the town owns it
    clock.advance(20)
    await server.task_trigger(await _task(server, incident_id, "duty-west-1"), "accept", "duty-west-1")

    escalated = await _stats(server)
    await server.incident_trigger(incident_id, "resolve", {"reason": "drain cleared"})
    resolved = await _stats(server)
    await server.incident_trigger(incident_id, "close")
    closed = await _stats(server)

    assert escalated["period"]["escalated"] == 1
    assert _by(escalated["towns"], "town")["west"]["escalated"] == 1
    tiers = _by(escalated["tiers"], "tier")
    assert tiers["town"]["accept"] == _times(20.0)
    assert tiers["street"]["accept"] == NO_TIMES  # its task expired unanswered
    assert (tiers["town"]["open"], tiers["street"]["open"]) == (1, 0)
    assert (resolved["period"]["resolved"], resolved["open"]["total"], resolved["incidents"]) == (1, 0, [])
    assert _by(resolved["towns"], "town")["west"]["resolved"] == 1
    assert (closed["period"]["closed"], closed["period"]["resolved"]) == (1, 1)
    assert closed["trend"][-1] == {**closed["trend"][-1], "opened": 1, "resolved": 1}


@pytest.mark.parametrize(
    ("caller", "sees"),
    [
        ({"role": "dispatcher", "name": "west-desk", "jurisdiction": "west"}, ["west"]),
        ({"role": "dispatcher", "name": "east-desk", "jurisdiction": "east"}, ["east"]),
        ({"role": "screen", "name": "west-wall", "jurisdiction": "west"}, ["west"]),
        ({"role": "dispatcher", "name": "city-desk", "jurisdiction": "city"}, ["east", "west"]),
        ({"role": "screen", "name": "hall"}, ["east", "west"]),
    ],
)
async def test_stats_a_town_sees_only_its_own_incidents(
    server: Harness, clock: ManualClock, caller: dict[str, Any], sees: list[str]
) -> None:
    ids = {
        "west": (await server.post_alert(alert("w1", location=WEST_N)))["incident_id"],
        "east": (await server.post_alert(alert("e1", source="gauge-east", location=EAST_N)))["incident_id"],
    }
    clock.advance(5)
    await server.task_trigger(await _task(server, ids["east"], "grid-east-n-1"), "accept", "grid-east-n-1")
    await server.incident_trigger(ids["east"], "escalate", {"reason": "pumps"})

    stats = await _stats(server, **caller)

    assert sorted(incident["town"] for incident in stats["incidents"]) == sees
    assert sorted(incident["id"] for incident in stats["incidents"]) == sorted(ids[town] for town in sees)
    assert sorted(town["town"] for town in stats["towns"]) == sees
    assert stats["open"]["total"] == stats["period"]["opened"] == len(sees)
    assert stats["period"]["escalated"] == (1 if "east" in sees else 0)
    assert stats["period"]["accept"]["count"] == (1 if "east" in sees else 0)
    assert sum(hour["opened"] for hour in stats["trend"]) == len(sees)


async def test_stats_overdue_a_passed_deadline_or_nobody_answering(
    server: Harness, clock: ManualClock
) -> None:
    waiting = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    accepted = (await server.post_alert(alert("e2", location=EAST_N)))["incident_id"]
    await server.task_trigger(await _task(server, accepted, "grid-east-n-1"), "accept", "grid-east-n-1")

    clock.advance(61)  # both steps' deadlines passed; the scheduler has not moved them on yet
    behind = await _stats(server)
    for step in (0, 120, 180):  # street → town → city, then nobody is left to ask
        clock.advance(step)
        await server.fire_deadlines()
    unanswered = await _stats(server)
    await server.incident_trigger(waiting, "assign", {"responder_id": "grid-west-n-2", "reason": "by hand"})
    assigned = await _stats(server)

    overdue = [answer["open"]["overdue"] for answer in (behind, unanswered, assigned)]
    assert overdue == [1, 1, 0]
    flags = {each["id"]: each["overdue"] for each in unanswered["incidents"]}
    assert flags == {waiting: True, accepted: False}
    assert _by(unanswered["towns"], "town")["west"]["overdue"] == 1
    assert unanswered["period"]["unanswered"] == 1
    assert unanswered["period"]["escalated"] == 2


async def test_stats_since_bounds_the_period_not_the_open_or_the_trend(
    server: Harness, clock: ManualClock
) -> None:
    start = clock.now()
    await server.post_alert(alert("e1", location=WEST_N))
    clock.advance(3600)
    since = datetime.fromtimestamp(start + 1800, ZONE).isoformat()

    later = await _stats(server, f"?since={since.replace('+', '%2B')}")

    assert later["period"]["opened"] == 0
    assert later["open"]["total"] == 1
    assert [hour["opened"] for hour in later["trend"][-3:]].count(1) == 1
    assert later["since"] == to_rfc3339(start + 1800)


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("yesterday", "RFC 3339"),
        ("2026-07-01T00:00:00", "needs a UTC offset"),
        ("far-past", "31 days"),
        ("future", "future"),
    ],
)
async def test_stats_bad_since_is_422_naming_the_field(
    server: Harness, clock: ManualClock, since: str, message: str
) -> None:
    now = datetime.fromtimestamp(clock.now(), ZONE)
    value = {
        "far-past": (now - timedelta(days=32)).isoformat(),
        "future": (now + timedelta(hours=1)).isoformat(),
    }.get(since, since)

    refused = await _stats(server, f"?since={value.replace('+', '%2B')}", expect=422)

    assert refused["error"]["code"] == "invalid"
    assert refused["error"]["field"] == "since"
    assert message in refused["error"]["message"]


async def test_stats_answer_reused_briefly_but_never_past_a_new_event(
    server: Harness, clock: ManualClock
) -> None:
    first = await _stats(server)
    clock.advance(1)
    reused = await _stats(server)
    await server.post_alert(alert("e1"))
    after_event = await _stats(server)
    clock.advance(2)
    expired = await _stats(server)

    assert reused == first
    assert after_event["period"]["opened"] == 1
    assert after_event["generated_at"] == to_rfc3339(clock.now() - 2)
    assert expired["generated_at"] == to_rfc3339(clock.now())


async def test_stats_trend_counts_each_local_hour(server: Harness, clock: ManualClock) -> None:
    first = (await server.post_alert(alert("e1", location=WEST_N)))["incident_id"]
    clock.advance(2 * 3600)
    await server.post_alert(alert("e2", location=WEST_S))
    await server.incident_trigger(first, "resolve", {"reason": "done"})

    stats = await _stats(server)

    hours = [hour["hour"] for hour in stats["trend"]]
    assert hours == [(hours[0] + index) % 24 for index in range(24)]
    counts = [(hour["opened"], hour["resolved"]) for hour in stats["trend"]]
    assert counts[-1] == (1, 1)
    assert counts[-3] == (1, 0)
    assert sum(opened for opened, _ in counts) == 2


async def test_stats_cache_one_read_at_a_time_and_the_next_shared(clock: ManualClock) -> None:
    cache = StatsCache(clock)
    reads: list[float] = []
    release = asyncio.Event()

    async def read(now: float) -> dict[str, Any]:
        reads.append(now)
        await release.wait()
        return {"read": len(reads)}

    first = asyncio.ensure_future(cache.get((None, 0.0), read))
    same = asyncio.ensure_future(cache.get((None, 0.0), read))
    await asyncio.sleep(0)  # let both ask before anything commits
    cache.notice(DomainEvent(occurred_at=clock.now(), actor="test"))
    later = [asyncio.ensure_future(cache.get((None, 0.0), read)) for _ in range(5)]
    release.set()

    answers = await asyncio.gather(first, same, *later)

    assert [answer["read"] for answer in answers] == [1, 1, 2, 2, 2, 2, 2]
    assert len(reads) == 2
    assert await cache.get((None, 0.0), read) == {"read": 2}  # nothing new since: reused
