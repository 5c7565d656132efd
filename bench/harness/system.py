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
