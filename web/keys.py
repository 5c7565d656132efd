"""Typed keys of the application, shared by the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from web.app import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
