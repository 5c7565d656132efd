"""to_rfc3339 is total: whatever a row holds, it renders (and the usual times exactly as before)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dispatch.shared.clock import to_rfc3339


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (None, None),
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_790_000_000.1234, "2026-09-21T14:13:20.123Z"),
        (253_402_300_799.0, "9999-12-31T23:59:59.000Z"),
        (253_402_387_139.0, "9999-12-31T23:59:59.999Z"),
        (-62_135_596_801.0, "0001-01-01T00:00:00.000Z"),
        (math.inf, "9999-12-31T23:59:59.999Z"),
        (-math.inf, "0001-01-01T00:00:00.000Z"),
        (math.nan, "0001-01-01T00:00:00.000Z"),
        ("yesterday", "0001-01-01T00:00:00.000Z"),  # text, as an SQLite REAL column may hold
        ("12.5", "1970-01-01T00:00:12.500Z"),
    ],
)
def test_to_rfc3339_renders_any_stored_value(stored: Any, shown: str | None) -> None:
    assert to_rfc3339(stored) == shown
