"""CPU placement: which cores a benchmark's server and its load generator (and all their threads) use."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Read once at import: later reads would give the calling thread's (possibly pinned) set.
MACHINE_CPUS: frozenset[int] = frozenset(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Placement:
    """`pinned`: server on one core, load on another; `unpinned`: both may use the whole machine."""

    name: str
    server: frozenset[int] | None
    load: frozenset[int]

    def describe(self) -> str:
        server = "all cores" if self.server is None else f"core {_cores(self.server)}"
        return f"{self.name} (server {server}, load {_cores(self.load)})"


def _cores(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def placements(names: list[str]) -> list[Placement]:
    """The named placements this machine can give; `pinned` needs two cores."""
    cpus = sorted(MACHINE_CPUS)
    found = []
    for name in names:
        if name == "pinned":
            if len(cpus) < 2:
                raise SystemExit("pinned: this process may run on one core only, nothing to pin apart")
            found.append(Placement(name, frozenset({cpus[0]}), frozenset({cpus[1]})))
        elif name == "unpinned":
            found.append(Placement(name, None, MACHINE_CPUS))
        else:
            raise SystemExit(f"unknown placement {name!r}: pinned or unpinned")
    return found


def threads(pid: int) -> list[int]:
    return [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()]


def pin(pid: int, cpus: frozenset[int]) -> None:
    """Every current thread of a process onto `cpus`; threads it starts later inherit it."""
    for tid in threads(pid):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(tid, cpus)


def allowed(pid: int) -> list[str]:
    """The distinct CPU lists a process's threads may run on (one entry when all agree)."""
    seen: set[str] = set()
    for tid in threads(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    seen.add(line.split(":", 1)[1].strip())
    return sorted(seen)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process, its threads and its living child processes (the fronts
    of `serve --workers N`) have used so far."""
    total = 0.0
    for each in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


@contextlib.contextmanager
def load_on(cpus: frozenset[int]) -> Iterator[None]:
    """This process (the load generator) on `cpus` for the block, back on the whole machine after."""
    pin(os.getpid(), cpus)
    try:
        yield
    finally:
        pin(os.getpid(), MACHINE_CPUS)
