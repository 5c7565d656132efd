"""The accumulators of the big screen's statistics: response times, towns, and one answer's tally."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from dispatch.config.model import Config, Tier
from dispatch.views.stats_shapes import ResponseTimes

TREND_HOURS = 24


@dataclass
class Durations:
    """Response times in seconds: how many, their median and 90th percentile (nearest rank)."""

    samples: list[float] = field(default_factory=list)

    def json(self) -> ResponseTimes:
        if not self.samples:
            return {"count": 0, "median_s": None, "p90_s": None}
        ordered = sorted(self.samples)
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return {
            "count": len(ordered),
            "median_s": round(statistics.median(ordered), 1),
            "p90_s": round(p90, 1),
        }


@dataclass
class Area:
    """The figures of one town (or of the city itself, for places outside every town)."""

    open: int = 0
    overdue: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    times: dict[str, Durations] = field(default_factory=lambda: defaultdict(Durations))

    def busy(self) -> bool:
        return bool(self.open or self.overdue or +self.counts or self.times)


class Towns:
    """Which town each jurisdiction lies in; a place at the city itself counts as the city's."""

    def __init__(self, config: Config) -> None:
        self.root = config.root.id
        self.of = {node.id: config.ancestor_at(node.id, Tier.TOWN).id for node in config.jurisdictions}
        self.order = [node.id for node in config.jurisdictions if node.tier == Tier.TOWN] + [self.root]

    def town(self, jurisdiction_id: str) -> str:
        return self.of.get(jurisdiction_id, self.root)  # a place a later config dropped


@dataclass
class Tally:
    """The figures of one answer, gathered query by query."""

    towns: Towns
    areas: dict[str, Area] = field(default_factory=lambda: defaultdict(Area))
    by_state: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[int] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    overdue_ids: set[int] = field(default_factory=set)
    period: Counter[str] = field(default_factory=Counter)
    trend: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(TREND_HOURS)])
    overall: dict[str, Durations] = field(default_factory=lambda: defaultdict(Durations))
    per_tier: dict[str, dict[str, Durations]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Durations))
    )

    def area(self, jurisdiction_id: str) -> Area:
        return self.areas[self.towns.town(jurisdiction_id)]


def listed_towns(towns: Towns, areas: dict[str, Area]) -> list[str]:
    """The towns of the scope (figures or not), and any other place that has figures."""
    return [town for town in towns.order if town in areas and (town != towns.root or areas[town].busy())]
