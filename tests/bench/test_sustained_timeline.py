"""The sustained benchmark's pure figures: per-second counts, backlog, its slope, the verdict."""

from __future__ import annotations

import math

import pytest

from bench.scenarios.sustained_timeline import (
    backlog,
    judge,
    latencies_ms,
    peak_concurrent,
    per_second,
    quantiles,
    series_table,
    slope,
)


def test_per_second_buckets_by_start_and_keeps_strays_in_the_ends() -> None:
    times = [99.5, 100.0, 100.99, 101.0, 102.5, 250.0]
    assert per_second(times, 100.0, 3) == [3, 1, 2]
    assert sum(per_second(times, 100.0, 3)) == len(times)
    assert per_second(times, 100.0, 0) == []


def test_backlog_is_sent_so_far_less_accepted_so_far() -> None:
    assert backlog([10, 10, 10, 0], [5, 10, 10, 5]) == [5, 5, 5, 0]


def test_slope_of_a_line_is_its_step_and_of_a_flat_series_zero() -> None:
    assert slope([3, 5, 7, 9]) == pytest.approx(2.0)
    assert slope([4, 4, 4]) == 0.0
    assert slope([7]) == 0.0
    # noise around a flat line stays near zero
    assert abs(slope([100, 102, 98, 101, 99, 100])) < 1.0


def test_peak_concurrent_counts_overlaps_and_ends_before_starts_at_one_time() -> None:
    assert peak_concurrent([0, 1, 2], [1.5, 2.5, 3]) == 2
    assert peak_concurrent([0, 1], [1, 2]) == 1
    assert peak_concurrent([], []) == 0


def test_latencies_only_for_alerts_seen_and_sorted() -> None:
    sent = {"a": 1.0, "b": 2.0, "c": 3.0}
    assert latencies_ms(sent, {"b": 2.5, "a": 1.002}) == pytest.approx([2.0, 500.0])
    figures = quantiles([])
    assert all(math.isnan(value) for value in figures.values())


def test_judge_meets_when_accepts_keep_pace_and_everything_is_accounted_for() -> None:
    sent = [100] * 10 + [0, 0]
    accepted = [50] + [100] * 9 + [50, 0]
    verdict = judge(100, 10, 2, sent, accepted, accounted=True)
    assert verdict.met
    assert verdict.backlog_slope_per_s == pytest.approx(0.0)
    assert verdict.backlog_at_end == 50
    assert verdict.offered_per_s == pytest.approx(100.0)
    assert not judge(100, 10, 2, sent, accepted, accounted=False).met


def test_judge_fails_a_growing_backlog() -> None:
    sent = [100] * 10
    accepted = [60] * 10
    verdict = judge(100, 10, 2, sent, accepted, accounted=True)
    assert verdict.backlog_slope_per_s == pytest.approx(40.0)
    assert verdict.accepted_per_s == pytest.approx(60.0)
    assert not verdict.met


def test_series_table_rows_average_per_second_and_end_with_the_backlog() -> None:
    rows = {"sent": [10, 10, 0], "opened": [10, 10, 0], "delivered": [8, 10, 2], "accepted": [6, 10, 4]}
    text = series_table(rows, 2)
    assert "| 0–2 | 10 | 10 | 9 | 8 | 4 |" in text
    assert "| 2–3 | 0 | 0 | 2 | 4 | 0 |" in text
