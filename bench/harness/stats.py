"""Figures from samples: percentiles, medians, and how tables print them."""

from __future__ import annotations

import math
import statistics


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values; NaN for none."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def median(values: list[float]) -> float:
    """The median of the values that are not NaN; NaN for none."""
    finite = [value for value in values if value == value]
    return statistics.median(finite) if finite else float("nan")


def fixed(value: float | None, digits: int = 1) -> str:
    """A figure with thousands separators and `digits` decimals; — for none or NaN."""
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def scaled(value: float) -> str:
    """A figure with as many decimals as its size deserves; — for NaN."""
    if value != value:  # NaN
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def ratio(ours: float | None, bare: float | None) -> str:
    return "—" if not ours or not bare else f"{ours / bare:.1f}×"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:,.0f}"


def parse_sizes(text: str) -> list[int]:
    """A comma list of counts, as the CLIs take them: "1000,5000" → [1000, 5000]."""
    return [int(part) for part in text.split(",") if part.strip()]
