"""The machine a benchmark ran on: its description, open-file limit and process memory."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp


def machine() -> dict[str, Any]:
    """What the results need to be compared: CPU, Python, aiohttp, SQLite and the date."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def raise_fd_limit() -> dict[str, int]:
    """Soft limit up to the hard one; child processes (server, clients) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    raised, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"soft_before": soft, "soft": raised, "hard": hard}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _status_kib(pid: int, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # gone meanwhile
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it (read from /proc/PID/task/*/children)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending.extend(int(child) for child in (task / "children").read_text().split())
    return found


def tree_memory_kib(pid: int) -> dict[str, int]:
    """The process tree of `pid` now: `rss` (sum of VmRSS) and `hwm` (sum of each one's VmHWM peak)."""
    pids = process_tree(pid)
    return {
        "rss": sum(_status_kib(each, "VmRSS") for each in pids),
        "hwm": sum(_status_kib(each, "VmHWM") for each in pids),
        "processes": len(pids),
    }
