"""The simulator: a realistic day played against a server through its public interfaces only.

`dispatch simulate` (command.py) and `dispatch serve --demo` (demo.py) run it. The public
surface: a `Simulator` with its `Settings` and `Credentials`, paced by a `SimulationClock`
(`WallClock`, or `SteppedClock` for tests), counting into a `Tally`; the pure, seeded script
of a scenario (`SCENARIOS`, `FloodDay`); how virtual tablets behave (`Habits`).

An entry point like `dispatch.cli`: it may import every part of `dispatch` (to set up a demo's
database, users and tokens), `web` (to run the demo's server) and `gateways`; nothing else in
`dispatch` imports it.
"""

from dispatch.simulate.access import Credentials
from dispatch.simulate.clock import SimulationClock, SteppedClock, WallClock
from dispatch.simulate.fleet import Habits
from dispatch.simulate.runner import Settings, Simulator
from dispatch.simulate.scenario import SCENARIOS, FloodDay
from dispatch.simulate.tally import Tally

__all__ = [
    "SCENARIOS",
    "Credentials",
    "FloodDay",
    "Habits",
    "Settings",
    "SimulationClock",
    "Simulator",
    "SteppedClock",
    "Tally",
    "WallClock",
]
