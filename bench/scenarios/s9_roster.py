"""S9's roster: enough free units that every new incident gets a task, at any of the rates.

S9 measures alert → task. An incident that finds every qualified unit busy climbs the tiers
and ends unanswered with no task at all: that measures the roster, not the latency (at
1,000 alerts/s with 10 extra units a street, 1,745 of 3,000 incidents ended so, every unit
free again at the end). A unit is busy from its task until the bench's tablet has accepted
and completed it (two more commits), which takes up to seconds when the server lags. So each
street gets ceil(rate × ROSTER_SECONDS / streets) extra units, at least MIN_UNITS_PER_STREET:
10 a street at 200 alerts/s, 49 (2,009 in all) at 1,000.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import yaml

from bench.harness.tokens import Tokens, make_template
from bench.workloads.city import City, add_street_units

ROSTER_SECONDS = 2.0
MIN_UNITS_PER_STREET = 10


def units_per_street(config: Path, rate: int) -> int:
    streets = len(City(config, random.Random(0)).streets)
    return max(MIN_UNITS_PER_STREET, math.ceil(rate * ROSTER_SECONDS / streets))


def ws_roster(base: Path, directory: Path, rate: int) -> tuple[Path, Tokens]:
    """In `directory`: a config with `rate`'s street units, and template.db with every unit's token."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    add_street_units(data, base, units_per_street(base, rate), seed=0)
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config, make_template(directory, config)
