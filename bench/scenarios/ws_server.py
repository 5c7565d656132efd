"""A `dispatch serve` child for the WebSocket benchmark, on a fresh copy of the template database."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.harness.servers import Server, dispatch_serve

SETTLE_S = 1.0


@contextlib.asynccontextmanager
async def dispatch_server(template: Path, config: Path) -> AsyncIterator[Server]:
    """`python -m dispatch serve` on a fresh copy of the template database (its tokens included)."""
    with tempfile.TemporaryDirectory(prefix="dispatch-bench-ws-") as temp:
        directory = Path(temp)
        for suffix in ("", "-wal", "-shm"):
            source = template.with_name(template.name + suffix)
            if source.exists():
                shutil.copyfile(source, directory / f"bench.db{suffix}")
        database = f"sqlite:///{directory / 'bench.db'}"
        async with dispatch_serve(config, database, directory, "--log-level", "INFO") as server:
            yield server


def server_troubles(log_text: str) -> dict[str, Any]:
    """What the server said that a benchmark should report: slow consumers dropped, errors."""
    lines = log_text.splitlines()
    slow = [line for line in lines if "closing slow" in line]
    bad = [line for line in lines if " ERROR " in line or " WARNING " in line or "Traceback" in line]
    return {"slow_consumers_closed": len(slow), "errors_logged": len(bad), "samples": (slow + bad)[:5]}
