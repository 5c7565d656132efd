"""S3's figures from what a storm run saw: latencies, the backlog over time, memory, accounting.

Each incident's opener is its lowest alert id among the answers; its first task is the first
`task_assigned` any tablet got for it. Alarm → first task is measured for the incidents an alarm
(a sensor's first firing) opened, from the moment its POST was sent.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.harness.stats import fixed, percentile
from bench.scenarios.s3_storm import Collected, Sent
from bench.workloads.storm import ALARM, CALL, REFIRE, REPEAT, RESOLVE, Plan

GOAL_P99_S = 1.0
GOAL_DRAIN_S = 5.0
GOAL_RSS_MB = 300.0
TIMELINE_STEP_S = 1.0


@dataclass
class Answer:
    """What a 202 said of one alert."""

    alert_id: int | None
    incident_id: int | None
    duplicate: bool | None
    changed: bool | None
    source_event_id: str


def answer_of(each: Sent) -> Answer | None:
    """The answer to one message if it was 202 (an Alertmanager result's, or a receipt's)."""
    if each.posted.status != 202:
        return None
    body = each.posted.body
    if "results" in body:
        result = body["results"][0]
        return Answer(
            result["alert_id"],
            result["incident_id"],
            result["duplicate"],
            result["changed"],
            result["source_event_id"],
        )
    return Answer(body.get("alert_id"), body.get("incident_id"), body.get("duplicate"), None, each.key[1])


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "count": len(values),
        "p50_ms": percentile(values, 0.5) * 1000,
        "p99_ms": percentile(values, 0.99) * 1000,
        "max_ms": (values[-1] if values else math.nan) * 1000,
    }


def _openers(run: Collected) -> dict[int, Sent]:
    """Incident → the message whose alert opened it (the incident's lowest alert id)."""
    first: dict[int, tuple[int, Sent]] = {}
    for each in run.sent:
        answer = answer_of(each)
        if answer is None or answer.alert_id is None or answer.incident_id is None or answer.duplicate:
            continue
        known = first.get(answer.incident_id)
        if known is None or answer.alert_id < known[0]:
            first[answer.incident_id] = (answer.alert_id, each)
    return {incident: each for incident, (_, each) in first.items()}


def _first_tasks(run: Collected) -> dict[int, float]:
    first: dict[int, float] = {}
    for task in run.tasks:
        incident = task["incident_id"]
        first[incident] = min(task["received"], first.get(incident, math.inf))
    return first


def latencies(run: Collected) -> dict[str, Any]:
    """Alarm → first task (and call → first task) for each incident opened, seconds → ms figures."""
    openers, first = _openers(run), _first_tasks(run)
    by_kind: dict[str, list[float]] = {ALARM: [], CALL: []}
    from_due: list[float] = []
    from_answer: list[float] = []
    no_task: Counter[str] = Counter()
    for incident, each in openers.items():
        if incident not in first:
            no_task[each.kind] += 1
            continue
        by_kind.setdefault(each.kind, []).append(first[incident] - each.posted.sent)
        if each.kind == ALARM:
            from_due.append(first[incident] - each.due)
            from_answer.append(first[incident] - each.posted.answered)
    return {
        "alarm_to_task": _ms(by_kind[ALARM]),
        "alarm_due_to_task": _ms(from_due),
        "alarm_answer_to_task_p50_ms": percentile(sorted(from_answer), 0.5) * 1000,
        # Alarms only: a sensor's later messages wait for the answer to its earlier one.
        "alarm_send_lag": _ms([each.posted.sent - each.due for each in run.sent if each.kind == ALARM]),
        "post": _ms([each.posted.answered - each.posted.sent for each in run.sent]),
        "call_to_task": _ms(by_kind[CALL]),
        "incidents_opened_by": dict(Counter(each.kind for each in openers.values())),
        "incidents_without_task": dict(no_task),
        "wrong_tablet": sum(1 for task in run.tasks if task["responder_id"] != task["tablet"]),
    }


def backlog(run: Collected, plan: Plan) -> dict[str, Any]:
    """In flight (sent, not yet answered) and incidents waiting for a task, over time; drains."""
    openers, first = _openers(run), _first_tasks(run)
    sent = sorted(each.posted.sent for each in run.sent)
    answered = sorted(each.posted.answered for each in run.sent)
    # Waiting from the opener's 202 to the first task (never, when the task came first).
    waits = [(opener.posted.answered, first.get(incident, math.inf)) for incident, opener in openers.items()]
    waits = [(known, tasked) for known, tasked in waits if tasked >= known]
    known_at = sorted(known for known, _ in waits)
    tasked_at = sorted(tasked for _, tasked in waits)
    end = max(answered[-1] if answered else run.began, max((t for t in tasked_at if t < math.inf), default=0))
    timeline = []
    for step in range(int((end - run.began) / TIMELINE_STEP_S) + 2):
        at = run.began + step * TIMELINE_STEP_S
        in_flight = bisect.bisect_right(sent, at) - bisect.bisect_right(answered, at)
        waiting = bisect.bisect_right(known_at, at) - bisect.bisect_right(tasked_at, at)
        timeline.append((round(step * TIMELINE_STEP_S, 1), in_flight, waiting))
    burst_end = run.began + plan.shape.burst_seconds
    in_burst = [each for each in run.sent if each.due < burst_end]
    burst_incidents = {i for i, opener in openers.items() if opener.due < burst_end}
    # From when the last alarm was due (it happened then, however late the client sent it).
    last_alarm = max(each.due for each in run.sent if each.kind == ALARM)
    last_message = max(each.due for each in run.sent)
    everything_tasked = all(incident in first for incident in openers)
    drained = max(answered[-1], max((first[i] for i in openers if i in first), default=0))
    burst_drained = max(
        max(each.posted.answered for each in in_burst),
        max((first[i] for i in burst_incidents if i in first), default=0),
    )
    return {
        "timeline": timeline,
        "peak_in_flight": max((row[1] for row in timeline), default=0),
        "peak_waiting": max((row[2] for row in timeline), default=0),
        "every_incident_tasked": everything_tasked,
        "drain_after_last_message_s": drained - last_message if everything_tasked else math.inf,
        "drain_after_last_alarm_s": drained - last_alarm if everything_tasked else math.inf,
        "burst_drain_after_its_last_alarm_s": burst_drained - max(e.due for e in in_burst)
        if all(i in first for i in burst_incidents)
        else math.inf,
    }


def accounting(run: Collected) -> dict[str, Any]:
    """Every 202'd alert in the database (the right key and incident); what repeats, flaps and
    calls did."""
    missing, wrong, unresolved = [], [], []
    alarm_incident: dict[int, int] = {}
    outcomes: Counter[str] = Counter()
    for each in sorted(run.sent, key=lambda sent: sent.posted.sent):
        answer = answer_of(each)
        outcomes[f"{each.kind}:{each.posted.status}"] += 1
        if answer is None or answer.alert_id is None:
            if answer is not None and each.kind == RESOLVE:
                outcomes["resolve:found_nothing"] += 1
            continue
        stored = run.stored.get(answer.alert_id)
        expected = (each.key[0], answer.source_event_id)
        if stored is None:
            missing.append(f"{each.kind} {expected}")
            continue
        if stored[:2] != expected or stored[2] != answer.incident_id or each.key != expected:
            wrong.append(f"{each.kind} {expected} → {stored}")
        if each.kind == RESOLVE and stored[3] is None:
            unresolved.append(f"{expected}")
        if each.kind == ALARM and answer.incident_id is not None:
            alarm_incident[each.target] = answer.incident_id
        elif each.kind in (REPEAT, REFIRE):
            same = alarm_incident.get(each.target) == answer.incident_id
            outcomes[f"{each.kind}:{'same_incident' if same else 'other_incident'}"] += 1
            if each.kind == REPEAT:
                outcomes[f"repeat:duplicate={answer.duplicate}"] += 1
    accepted = sum(1 for each in run.sent if each.posted.status == 202)
    return {
        "accepted_202": accepted,
        "not_202": len(run.sent) - accepted,
        "error_samples": sorted(
            {f"{e.posted.status}: {str(e.posted.body)[:160]}" for e in run.sent if e.posted.status != 202}
        )[:5],
        "missing_in_database": len(missing),
        "wrong_in_database": len(wrong),
        "resolved_not_stored": len(unresolved),
        "samples": (missing + wrong + unresolved)[:5],
        "outcomes": dict(sorted(outcomes.items())),
        "alerts_stored": len(run.stored),
        "incidents_stored": run.stored_incidents,
        "tasks_stored": run.stored_tasks,
    }


def memory(run: Collected) -> dict[str, Any]:
    peak_rss = max((kib for _, kib in run.memory), default=0)
    peak = max(peak_rss, run.peak_hwm_kib)
    return {
        "peak_sampled_rss_kib": peak_rss,
        "peak_hwm_kib": run.peak_hwm_kib,
        "peak_mb": peak * 1024 / 1e6,
        "samples": [(round(at - run.began, 2), kib) for at, kib in run.memory],
    }


def score(plan: Plan, run: Collected) -> dict[str, Any]:
    """Every figure of one run (JSON-ready)."""
    alarms = sum(1 for each in run.sent if each.kind == ALARM)
    latency = latencies(run)
    figures: dict[str, Any] = {
        "latency": latency,
        "backlog": backlog(run, plan),
        "memory": memory(run),
        "accounting": accounting(run),
        "tablets": run.tablets,
        "tablet_failures": run.tablet_failures,
        "tablet_results": run.tablet_results,
        "tablet_closed": run.tablet_closed,
        "tasks_seen": len(run.tasks),
        "drain_wait_s": round(run.drain_wait_s, 2),
        "troubles": run.troubles,
        "untasked": run.untasked,
        "retried": {"count": len(run.retried), "samples": run.retried[:5]},
    }
    opened = latency["incidents_opened_by"]
    by_sensors = sum(opened.get(kind, 0) for kind in (ALARM, REFIRE, REPEAT))
    figures["correlation"] = {
        "alarms_sent": alarms,
        "incidents_opened_by_sensor_alerts": by_sensors,
        "incidents_opened_by_calls": opened.get(CALL, 0),
        "incidents_per_alarm": by_sensors / alarms if alarms else math.nan,
        "incidents_stored": run.stored_incidents,
    }
    return figures


def _seconds(value: float | None) -> float:
    return math.inf if value is None else value


def goals(figures: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(goal, target, measured, met) for each of S3's goals."""
    latency, drain = figures["latency"], figures["backlog"]
    accounted = figures["accounting"]
    p99 = latency["alarm_to_task"]["p99_ms"]
    no_task = sum(latency["incidents_without_task"].values())
    lost = (
        accounted["missing_in_database"] + accounted["wrong_in_database"] + accounted["resolved_not_stored"]
    )
    peak = figures["memory"]["peak_mb"]
    # Never drained is inf here, null once read back from JSON.
    after = _seconds(drain["drain_after_last_message_s"])
    burst = _seconds(drain["burst_drain_after_its_last_alarm_s"])
    return [
        (
            "alarm → first task on a tablet, p99",
            f"≤ {GOAL_P99_S:g} s",
            f"{fixed(p99 / 1000, 3)} s (p50 {fixed(latency['alarm_to_task']['p50_ms'] / 1000, 3)} s; "
            f"{no_task} incidents without a task; from when due: p99 "
            f"{fixed(latency['alarm_due_to_task']['p99_ms'] / 1000, 3)} s)",
            p99 <= GOAL_P99_S * 1000 and no_task == 0,
        ),
        (
            "backlog drained after the last alarm (the storm's last message)",
            f"≤ {GOAL_DRAIN_S:g} s",
            f"{fixed(after, 2)} s (after the last alarm start: "
            f"{fixed(_seconds(drain['drain_after_last_alarm_s']), 2)} s)",
            after <= GOAL_DRAIN_S,
        ),
        (
            "… after the burst's last alarm",
            f"≤ {GOAL_DRAIN_S:g} s",
            f"{fixed(burst, 2)} s",
            burst <= GOAL_DRAIN_S,
        ),
        ("server peak RSS", f"≤ {GOAL_RSS_MB:g} MB", f"{peak:,.0f} MB", peak <= GOAL_RSS_MB),
        (
            "every accepted alert accounted for",
            "0 missing",
            f"{lost} missing or wrong of {accounted['accepted_202']:,} accepted "
            f"({accounted['not_202']} not accepted)",
            lost == 0 and accounted["not_202"] == 0,
        ),
    ]
