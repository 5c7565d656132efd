"""The words of the console screen."""

from __future__ import annotations

ZH: dict[str, str] = {}

EN: dict[str, str] = {}

STRINGS = {"zh-CN": ZH, "en": EN}
