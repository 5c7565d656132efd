"""The sustained run's figures from its timestamps: per-second counts, backlog, its slope, the verdict.

Pure: lists of times in, numbers and tables out (tests/bench/test_sustained_timeline.py).
Times are seconds on one clock; `start` is when the first alert was due.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.harness.stats import fixed, percentile

SERIES = ("sent", "opened", "delivered", "accepted")
SLOPE_TOLERANCE = 0.01
"""Backlog growth counts as none when its slope is within this share of the offered rate."""


def per_second(times: Iterable[float], start: float, seconds: int) -> list[int]:
    """How many of `times` fell in each second [start + i, start + i + 1) for i < seconds.

    Times before `start` count in the first second and times after the last in the last one, so
    the counts always add up to the number of times.
    """
    counts = [0] * seconds
    if seconds <= 0:
        return counts
    for at in times:
        index = min(seconds - 1, max(0, math.floor(at - start)))
        counts[index] += 1
    return counts


def cumulative(counts: Sequence[int]) -> list[int]:
    total, out = 0, []
    for count in counts:
        total += count
        out.append(total)
    return out


def backlog(sent: Sequence[int], accepted: Sequence[int]) -> list[int]:
    """At the end of each second: alerts sent so far less tasks accepted so far."""
    return [s - a for s, a in zip(cumulative(sent), cumulative(accepted), strict=True)]


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of values[i] against i (units per second); 0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def peak_concurrent(starts: Iterable[float], ends: Iterable[float]) -> int:
    """Most intervals open at once, given every start and every end (an end at a start's time first)."""
    moves = [(at, 1) for at in starts] + [(at, -1) for at in ends]
    moves.sort(key=lambda move: (move[0], move[1]))
    peak = level = 0
    for _, step in moves:
        level += step
        peak = max(peak, level)
    return peak


def latencies_ms(sent: dict[str, float], seen: dict[str, float]) -> list[float]:
    """Sorted ms from each alert sent to its `seen` time, for the alerts that have one."""
    return sorted((seen[key] - at) * 1000 for key, at in sent.items() if key in seen)


@dataclass
class Verdict:
    offered_per_s: float
    """Alerts sent per second over the load window (the pacing's own achievement)."""
    accepted_per_s: float
    """Tasks accepted per second over the steady part of the load window (after the warm-up)."""
    backlog_slope_per_s: float
    """Growth of the backlog over the steady part, alerts per second (0: the server keeps up)."""
    backlog_at_end: int
    """Sent but not yet accepted when the last alert went out."""
    accounted: bool
    """Every alert stored, opened its own incident, and that incident has an accepted task."""
    met: bool


def judge(
    rate: int, seconds: int, warm_up: int, sent: Sequence[int], accepted: Sequence[int], accounted: bool
) -> Verdict:
    """The goal is met when the rate was offered, accepts kept pace with no backlog growth, all accounted."""
    window = backlog(sent[:seconds], accepted[:seconds])
    steady = window[warm_up:] if len(window) - warm_up >= 2 else window
    grows = slope(steady)
    offered = sum(sent[:seconds]) / seconds if seconds else 0.0
    steady_accepts = accepted[warm_up:seconds] if seconds - warm_up >= 1 else accepted[:seconds]
    accepted_per_s = sum(steady_accepts) / len(steady_accepts) if steady_accepts else 0.0
    met = (
        accounted
        and offered >= (1 - SLOPE_TOLERANCE) * rate
        and grows <= SLOPE_TOLERANCE * rate
        and accepted_per_s >= (1 - SLOPE_TOLERANCE) * rate
    )
    return Verdict(offered, accepted_per_s, grows, window[-1] if window else 0, accounted, met)


def series_table(rows: dict[str, list[int]], every: int) -> str:
    """Per `every` seconds: each series' count (per second on average) and the backlog at the end."""
    length = len(rows["sent"])
    backlogs = backlog(rows["sent"], rows["accepted"])
    lines = [
        "| seconds | sent/s | incidents opened/s | tasks delivered/s | tasks accepted/s | backlog at end |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for first in range(0, length, every):
        last = min(length, first + every)
        span = last - first
        cells = [fixed(sum(rows[name][first:last]) / span, 0) for name in SERIES]
        lines.append(f"| {first}–{last} | {' | '.join(cells)} | {backlogs[last - 1]:,} |")
    return "\n".join(lines)


def quantiles(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of sorted values (NaN for none)."""
    return {
        "p50_ms": percentile(values, 0.50),
        "p99_ms": percentile(values, 0.99),
        "max_ms": values[-1] if values else float("nan"),
    }
