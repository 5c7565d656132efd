"""The words of the tablet screen."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}

STRINGS = {"zh-CN": ZH, "en": EN}
