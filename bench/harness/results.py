"""Where results go: JSON files under bench/results/ (or --json), indented, int keys allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
